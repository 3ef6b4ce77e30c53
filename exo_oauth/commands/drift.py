"""`exo-oauth drift`: the three drift checks of one stack, run with whatever this machine has."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.exit_codes import ExitCode, exit_help
from components.microsoft import PROTOCOLS

from ..errors import UsageError
from ..verify.clouds import CLOUDS
from .verify import add_endpoint_arguments

CHECKS = ("entra", "exchange", "e2e")
PASS_THROUGH = ("cloud", "authority_host", *(p.name for p in PROTOCOLS), "ca_file")
"""`exo-oauth verify` options that drift hands on to each end-to-end check."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `drift` subcommand."""
    parser = subparsers.add_parser(
        "drift",
        help="check one stack for drift: Entra (pulumi preview), Exchange (verify script), end to end (verify)",
        description="Run `pulumi preview --refresh --json` (needs the pulumi CLI; a change other than credential "
        "rotation due on its schedule is drift), the stack's "
        "Exchange verify script (needs pwsh and certificate sign-in) and `exo-oauth verify` for each app-only app "
        "(needs the network), and say which checks could not run and why. "
        + exit_help(ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_RUN, ExitCode.DRIFT),
    )
    parser.add_argument("--stack", required=True, metavar="NAME", help="the stack to check")
    parser.add_argument("--checks", default=",".join(CHECKS), metavar="LIST",
                        help=f"comma-separated subset of {','.join(CHECKS)} (default: all)")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="outputs saved with `pulumi stack output --json --show-secrets` (default: ask pulumi)")
    parser.add_argument("--project-dir", type=Path, help="the project folder (default: nearest Pulumi.yaml above here)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--policy-pack", type=Path, metavar="DIR", help="preview with this policy pack (entra check)")
    exchange = parser.add_argument_group("Exchange sign-in on a runner (handed to the verify script)")
    exchange.add_argument("--exchange-certificate-file", type=Path, metavar="PFX",
                          help="the Exchange app's PFX, as -CertificateFilePath (overrides the stack's)")
    exchange.add_argument("--exchange-password-variable", metavar="VAR",
                          help="environment variable with the PFX's password, as -CertificatePasswordVariable")
    verify = parser.add_argument_group("handed on to exo-oauth verify")
    verify.add_argument("--cloud", choices=tuple(CLOUDS))
    verify.add_argument("--authority-host", metavar="URL")
    add_endpoint_arguments(verify)
    verify.add_argument("--ca-file", type=Path, metavar="PEM")
    verify.add_argument("--certificate", type=Path, metavar="PEM",
                        help="for certificate apps: PEM with the app's private key and certificate (secret apps use "
                        "the stack's secret output, federated ones GitHub's OIDC token in a GitHub Actions job)")
    verify.add_argument("--certificate-passphrase-env", metavar="VAR",
                        help="environment variable holding the private key's passphrase")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen checks and print one line each; return OK, DRIFT or NOT_RUN (components.exit_codes)."""
    from ..drift import e2e_checks, entra_check, exchange_check, exit_status, render_json, render_text  # noqa: PLC0415
    from ..project import find_project_dir, load_stack  # noqa: PLC0415
    from ..stack_outputs import load_outputs  # noqa: PLC0415

    chosen = [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown or not chosen:
        raise UsageError(f"--checks {args.checks!r}: allowed: a non-empty subset of {','.join(CHECKS)}")
    project_dir = args.project_dir.resolve() if args.project_dir else find_project_dir()
    config = load_stack(project_dir, args.stack).config
    try:
        outputs = load_outputs(args.stack, project_dir, args.outputs)
    except UsageError as error:
        if args.outputs is not None:
            raise
        print(f"exo-oauth drift: {error}", file=sys.stderr)
        outputs = None
    overrides = {name: getattr(args, name) for name in PASS_THROUGH}
    if args.certificate_passphrase_env is not None and args.certificate is None:
        raise UsageError("--certificate-passphrase-env: only with --certificate PEM")
    certificate = None if args.certificate is None else {
        "certificate": args.certificate, "certificate_passphrase_env": args.certificate_passphrase_env}
    results = []
    if "entra" in chosen:
        results.append(entra_check(args.stack, project_dir, args.policy_pack.resolve() if args.policy_pack else None))
    if "exchange" in chosen:
        results.append(exchange_check(args.stack, project_dir, outputs, config.exchange.app_id is not None,
                                      _exchange_args(args)))
    if "e2e" in chosen:
        results += e2e_checks(args.stack, project_dir, outputs, overrides, args.outputs, certificate=certificate)
    sys.stdout.write((render_json if args.format == "json" else render_text)(args.stack, results))
    return exit_status(results)


def _exchange_args(args: argparse.Namespace) -> list[str]:
    """Return the verify script's sign-in arguments: the PFX file and the name of its password's variable."""
    script_args: list[str] = []
    if args.exchange_certificate_file is not None:
        if not args.exchange_certificate_file.is_file():
            raise UsageError(f"--exchange-certificate-file {args.exchange_certificate_file}: no such file; allowed: "
                             "the Exchange app's PFX")
        script_args += ["-CertificateFilePath", str(args.exchange_certificate_file.resolve())]
    if args.exchange_password_variable is not None:
        if args.exchange_certificate_file is None:
            raise UsageError("--exchange-password-variable: only with --exchange-certificate-file PFX")
        script_args += ["-CertificatePasswordVariable", args.exchange_password_variable]
    return script_args
