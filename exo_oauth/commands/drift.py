"""`exo-oauth drift`: the drift checks of one stack, run with whatever this machine has."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from exo_domain.exit_codes import ExitCode, exit_help
from exo_domain.microsoft import PROTOCOLS

from ..util.errors import UsageError
from .flags import add_certificate, add_cloud_and_hosts, add_format, add_project_dir, chosen_project_dir, stack_name

if TYPE_CHECKING:
    from ..tenant.graph import GraphClient

CHECKS = ("entra", "exchange", "e2e", "consents")
"""Every check; without --checks, `consents` runs only when a Graph sign-in (--graph-client-id) is given."""
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
        "(needs the network), with --graph-client-id read each app's consents from Microsoft Graph (one not declared "
        "by the stack is drift), and say which checks could not run and why. "
        + exit_help(ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_RUN, ExitCode.DRIFT),
    )
    parser.add_argument("--stack", type=stack_name, required=True, metavar="NAME", help="the stack to check")
    parser.add_argument("--checks", metavar="LIST",
                        help=f"comma-separated subset of {','.join(CHECKS)} (default: all; consents only with "
                        "--graph-client-id)")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="outputs saved with `pulumi stack output --json --show-secrets` (default: ask pulumi)")
    add_project_dir(parser)
    add_format(parser, "json")
    parser.add_argument("--policy-pack", type=Path, metavar="DIR", help="preview with this policy pack (entra check)")
    exchange = parser.add_argument_group("Exchange sign-in on a runner (handed to the verify script)")
    exchange.add_argument("--exchange-certificate-file", type=Path, metavar="PFX",
                          help="the Exchange app's PFX, as -CertificateFilePath (overrides the stack's)")
    exchange.add_argument("--exchange-password-variable", metavar="VAR",
                          help="environment variable with the PFX's password, as -CertificatePasswordVariable")
    exchange.add_argument("--exchange-full-access-scan", type=int, metavar="N",
                          help="also look for FullAccess the stack does not declare on up to N mailboxes, as "
                          "-FullAccessScanLimit (one Get-MailboxPermission per mailbox and app; default: off)")
    exchange.add_argument("--exchange-results", type=Path, metavar="DIR",
                          help="do not run the verify script: read how it ended under a runner that ran it for "
                          "several stacks in one PowerShell process (`exo-oauth exchange --out DIR --runners N`)")
    graph = parser.add_argument_group("read-only Microsoft Graph sign-in for the consents check (as audit's; "
                                      "--cloud, --authority-host and --ca-file apply too)")
    graph.add_argument("--graph-client-id", metavar="ID", help="a read-only app (Application.Read.All, "
                       "Directory.Read.All) that signs in with client credentials")
    graph.add_argument("--graph-secret-env", metavar="VAR", help="environment variable holding its client secret")
    graph.add_argument("--graph-host", metavar="URL", help="override Microsoft Graph's host (https://HOST[:PORT])")
    verify = parser.add_argument_group("handed on to exo-oauth verify (secret apps use the stack's secret output, "
                                       "federated ones GitHub's OIDC token in a GitHub Actions job)")
    add_cloud_and_hosts(verify, mail=True)
    add_certificate(verify)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen checks and print one line each; return OK, DRIFT or NOT_RUN (exo_domain.exit_codes)."""
    from ..fleet.drift import (  # noqa: PLC0415
        e2e_checks,
        entra_check,
        exchange_check,
        exchange_result_check,
        exit_status,
        render_json,
        render_text,
    )
    from ..fleet.project import load_stack  # noqa: PLC0415
    from ..fleet.stack_outputs import load_outputs  # noqa: PLC0415
    from ..tenant.undeclared import consents_check  # noqa: PLC0415 - reads Graph: loads the sign-in stack
    from .exchange import deployed_script, outputs_source  # noqa: PLC0415

    checks = args.checks if args.checks is not None else ",".join(
        c for c in CHECKS if c != "consents" or args.graph_client_id is not None)
    chosen = [c.strip() for c in checks.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown or not chosen:
        raise UsageError(f"--checks {checks!r}: allowed: a non-empty subset of {','.join(CHECKS)}")
    project_dir = chosen_project_dir(args)
    stack = load_stack(project_dir, args.stack)
    config = stack.config
    # The entra check previews, and a runner's results need no outputs; the other checks read them.
    readers = {"e2e", "consents"} | ({"exchange"} if args.exchange_results is None else set())
    outputs = None
    try:
        # Read once for every check: the e2e checks' secrets included, so verify does not ask pulumi per app.
        if readers & set(chosen):
            outputs = load_outputs(args.stack, project_dir, args.outputs, show_secrets="e2e" in chosen)
    except UsageError as error:
        if args.outputs is not None:
            raise
        print(f"exo-oauth drift: {error}", file=sys.stderr)
    overrides = {name: getattr(args, name) for name in PASS_THROUGH}
    if args.certificate_passphrase_env is not None and args.certificate is None:
        raise UsageError("--certificate-passphrase-env: only with --certificate PEM")
    certificate = None if args.certificate is None else {
        "certificate": args.certificate, "certificate_passphrase_env": args.certificate_passphrase_env}
    results = []
    if "entra" in chosen:
        results.append(entra_check(args.stack, project_dir, args.policy_pack.resolve() if args.policy_pack else None))
    if "exchange" in chosen:
        if args.exchange_results is not None:
            if _exchange_args(args):
                raise UsageError("--exchange-results: the runner already handed the sign-in to the scripts; allowed: "
                                 "without --exchange-certificate-file, --exchange-password-variable and "
                                 "--exchange-full-access-scan")
            results.append(exchange_result_check(args.stack, args.exchange_results))
        else:
            verify_script = None if outputs is None else partial(
                deployed_script, "verify", stack, outputs, outputs_source(stack.name, args.outputs))
            results.append(exchange_check(args.stack, project_dir, verify_script, config.exchange.app_id is not None,
                                          _exchange_args(args)))
    if "e2e" in chosen:
        results += e2e_checks(args.stack, project_dir, outputs, overrides, args.outputs, certificate=certificate)
    if "consents" in chosen:
        results.append(consents_check(outputs, _graph_opener(args, config.tenant_id, config.cloud)))
    sys.stdout.write((render_json if args.format == "json" else render_text)(args.stack, results))
    return exit_status(results)


def _graph_opener(args: argparse.Namespace, tenant: str, cloud: str) -> Callable[[], GraphClient] | None:
    """Return what signs in to Graph for the consents check, or None without --graph-client-id."""
    if args.graph_client_id is None:
        return None
    if args.graph_secret_env is None:
        raise UsageError("--graph-client-id: needs --graph-secret-env VAR (the read-only app's client secret)")
    from ..tenant.request import SignInRequest  # noqa: PLC0415
    from ..tenant.signin import open_graph  # noqa: PLC0415 - loads msal

    request = SignInRequest(tenant=tenant, client_id=args.graph_client_id, secret_env=args.graph_secret_env,
                            cloud=args.cloud or cloud, authority_host=args.authority_host,
                            graph_host=args.graph_host, ca_file=args.ca_file)
    return lambda: open_graph(request, os.environ)


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
    if args.exchange_full_access_scan is not None:
        if args.exchange_full_access_scan < 1:
            raise UsageError(f"--exchange-full-access-scan {args.exchange_full_access_scan}: allowed: a number of "
                             "mailboxes, 1 or more")
        script_args += ["-FullAccessScanLimit", str(args.exchange_full_access_scan)]
    return script_args
