"""`exo-oauth exchange-sign-in`: can a runner sign in to Exchange Online for this stack without a person."""

from __future__ import annotations

import argparse
import base64
import binascii
import os
from typing import Any

from exo_domain.exit_codes import ExitCode, exit_help

from ..util.errors import UsageError
from .flags import add_project_dir, chosen_project_dir, stack_name


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `exchange-sign-in` subcommand."""
    parser = subparsers.add_parser(
        "exchange-sign-in",
        help="check, before pwsh starts, that a stack's Exchange scripts can sign in with a certificate",
        description="Check that the environment variables hold a base64 PFX that opens with its password and, with "
        "--stack, that the stack sets exo-oauth:exchange.appId and organization (and, if it names one, the PFX's "
        "certificateThumbprint): what certificate app-only sign-in to Exchange Online needs on a runner, where an "
        "interactive sign-in would fail under -NonInteractive. Print one line: ready, or what is missing. "
        + exit_help(ExitCode.OK, ExitCode.USAGE),
    )
    parser.add_argument("--stack", type=stack_name, metavar="NAME",
                        help="the stack whose scripts will run (default: check only the certificate)")
    parser.add_argument("--pfx-env", required=True, metavar="VAR", help="environment variable with the PFX in base64")
    parser.add_argument("--password-env", required=True, metavar="VAR",
                        help="environment variable with the PFX's password")
    add_project_dir(parser)
    parser.set_defaults(run=run)


def _pfx(args: argparse.Namespace) -> tuple[bytes, bytes]:
    data, password = os.environ.get(args.pfx_env, ""), os.environ.get(args.password_env, "")
    if not data:
        raise UsageError("--pfx-env: the variable it names is empty or not set (the name is not repeated: it may be "
                         "the secret itself); allowed: the base64 of the Exchange app's PFX "
                         "(secret EXO_CERTIFICATE_PFX of the environment)")
    if not password:
        raise UsageError("--password-env: the variable it names is empty or not set (the name is not repeated: it may "
                         "be the secret itself); allowed: the PFX's password "
                         "(secret EXO_CERTIFICATE_PASSWORD); Connect-ExchangeOnline -CertificateFilePath needs one")
    try:
        return base64.b64decode("".join(data.split()), validate=True), password.encode()
    except (binascii.Error, ValueError):
        raise UsageError("--pfx-env: the variable it names is not base64; allowed: `base64 -w0 app.pfx`") from None


def _certificate(args: argparse.Namespace) -> Any:
    """Return the PFX's certificate, checking that the PFX opens with the password and holds the private key."""
    from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: PLC0415 - --help must not load OpenSSL

    data, password = _pfx(args)
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise UsageError("--pfx-env: not a PFX that opens with the password of --password-env; "
                         "allowed: the Exchange app's PFX and its password") from None
    if key is None or certificate is None:
        raise UsageError("--pfx-env: the PFX lacks the private key or the certificate; allowed: a "
                         "PFX exported with its private key")
    return certificate


def run(args: argparse.Namespace) -> int:
    """Check the certificate, and the stack's Exchange sign-in settings when --stack is given; print one line."""
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415 - --help must not load OpenSSL

    from ..fleet.project import load_stack  # noqa: PLC0415

    certificate = _certificate(args)
    valid = f"a certificate valid until {certificate.not_valid_after_utc:%Y-%m-%d}"
    if args.stack is None:
        print(f"Exchange sign-in: the PFX opens with its password: {valid}")
        return ExitCode.OK
    project_dir = chosen_project_dir(args)
    stack = load_stack(project_dir, args.stack)
    exchange = stack.config.exchange
    missing = [key for key, value in (("appId", exchange.app_id), ("organization", exchange.organization))
               if value is None]
    if missing:
        keys = " and ".join(f"exo-oauth:exchange.{k}" for k in missing)
        raise UsageError(f"{stack.config.source}: {keys} not set, so the Exchange script would ask for an "
                         "interactive sign-in, which a runner cannot give; allowed: set them (certificate app-only "
                         "sign-in, docs/exchange.md), or run the script by hand")
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the thumbprint Windows shows
    if exchange.certificate_thumbprint and exchange.certificate_thumbprint.upper() != thumbprint:
        raise UsageError(f"--pfx-env: the certificate's thumbprint is {thumbprint}, but "
                         f"{stack.config.source} names {exchange.certificate_thumbprint} in "
                         "exo-oauth:exchange.certificateThumbprint; allowed: the PFX of that certificate")
    print(f"{args.stack}: Exchange sign-in as app {exchange.app_id} to {exchange.organization} with {valid}")
    return ExitCode.OK
