"""`exo-oauth verify`: prove OAuth for IMAP, POP and SMTP end to end, or say exactly why not."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from components.exit_codes import ExitCode, exit_help
from components.microsoft import FLOWS, PROTOCOLS

from ..verify.clouds import CLOUDS
from ..verify.request import DEFAULT_TIMEOUT, RUN_STEPS, VerifyRequest
from ..verify.token_cache import MODES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `verify` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        help="get a token and log in to IMAP, POP and SMTP with XOAUTH2; explain any failure",
        description="Get one token with msal (client credentials, or device code for delegated apps), log in to "
        "each protocol concurrently with SASL XOAUTH2, and report per protocol: ok, or failed with cause and fix. "
        "The credential comes from the stack's secret output, --secret-env or --certificate, never from a "
        "command-line value. "
        + exit_help(ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.NOT_RUN),
    )
    stack = parser.add_argument_group("from a deployed stack")
    stack.add_argument("--stack", metavar="NAME", help="read the app from this stack's outputs")
    stack.add_argument("--app", metavar="NAME", help="the app to verify (default: the stack's only app)")
    stack.add_argument("--outputs", type=Path, metavar="FILE",
                       help="outputs saved with `pulumi stack output --json [--show-secrets]` (default: ask pulumi)")
    stack.add_argument("--project-dir", type=Path, metavar="DIR",
                       help="the project folder (default: nearest Pulumi.yaml above here)")
    explicit = parser.add_argument_group("without a stack")
    explicit.add_argument("--tenant", metavar="ID", help="tenant ID (GUID) or verified domain")
    explicit.add_argument("--client-id", metavar="ID", help="the app's Application (client) ID")
    explicit.add_argument("--flow", choices=FLOWS,
                          help="default: app-only with a credential, delegated (device code) without")
    what = parser.add_argument_group("what to check")
    what.add_argument("--mailbox", metavar="ADDR",
                      help="mailbox to log in to (app-only default: the app's first mailbox; delegated: the user's)")
    what.add_argument("--protocols", metavar="LIST",
                      help=f"comma-separated subset of {','.join(p.name for p in PROTOCOLS)} (default: the app's)")
    what.add_argument("--send-test-to", metavar="ADDR", help="after SMTP AUTH, send one test message here")
    credential = parser.add_argument_group("credential (never on the command line)")
    credential.add_argument("--secret-env", metavar="VAR", help="environment variable holding the client secret value")
    credential.add_argument("--certificate", type=Path, metavar="PEM",
                            help="PEM file with the app's private key and its certificate")
    credential.add_argument("--certificate-passphrase-env", metavar="VAR",
                            help="environment variable holding the private key's passphrase")
    hosts = parser.add_argument_group("clouds and hosts")
    hosts.add_argument("--cloud", choices=tuple(CLOUDS),
                       help="Microsoft cloud: login and mail hosts (default: the stack's exo-oauth:cloud, else global)")
    hosts.add_argument("--authority-host", metavar="URL", help="override the login host (https://HOST[:PORT])")
    add_endpoint_arguments(hosts)
    hosts.add_argument("--ca-file", type=Path, metavar="PEM", help="trust only these CA certificates (TLS is always "
                       "verified)")
    output = parser.add_argument_group("output")
    output.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    output.add_argument("--verbose", action="store_true",
                        help="add protocol transcripts and token claims (tokens and secrets are never shown)")
    output.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"per network step, however slowly a server answers (default: {DEFAULT_TIMEOUT:g}); "
                        f"the whole run gets {RUN_STEPS} times this")
    output.add_argument("--token-cache", choices=MODES, default=MODES[0],
                        help="keep tokens between runs ($XDG_CACHE_HOME/exo-oauth/tokens): encrypted by the OS's "
                        "secret store (default; without one, no cache and a note on stderr), plain (a private 0600 "
                        "file, weaker: opt in only where no keyring exists), or off")
    parser.set_defaults(run=run)


def add_endpoint_arguments(group: argparse._ArgumentGroup) -> None:
    """Add `--imap`, `--pop` and `--smtp HOST:PORT`, one per protocol of Microsoft's facts, with its security."""
    for protocol in PROTOCOLS:
        group.add_argument(f"--{protocol.name}", metavar="HOST:PORT", help=f"override the {protocol.label} endpoint "
                           f"({protocol.security.upper()})")


def request_from(args: argparse.Namespace) -> VerifyRequest:
    """Return the typed request for the parsed `exo-oauth verify` flags (each field is the flag of that name)."""
    return VerifyRequest(**{field.name: getattr(args, field.name) for field in fields(VerifyRequest)})


def run(args: argparse.Namespace) -> int:
    """Resolve the target, get the token, run the checks, print the report; return the exit status."""
    from ..verify.report import render_json, render_table  # noqa: PLC0415 - keep --help fast
    from ..verify.service import verify  # noqa: PLC0415 - loads msal and the checks

    result = verify(request_from(args), os.environ, prompt=lambda message: print(message, file=sys.stderr, flush=True))
    render = render_json if args.format == "json" else render_table
    sys.stdout.write(result.scrub(render(result.target, result.diagnosis, args.verbose)))
    return result.exit_status
