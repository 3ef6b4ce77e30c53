"""`exo-oauth verify`: prove OAuth for IMAP, POP and SMTP end to end, or say exactly why not."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from exo_domain.exit_codes import ExitCode, exit_help
from exo_domain.microsoft import FLOWS, PROTOCOLS

from ..verify.request import DEFAULT_TIMEOUT, RUN_STEPS, VerifyRequest
from ..verify.token_cache import MODES
from .flags import add_certificate, add_cloud_and_hosts, add_format, add_project_dir, add_secret_env, stack_name


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
    stack.add_argument("--stack", type=stack_name, metavar="NAME", help="read the app from this stack's outputs")
    stack.add_argument("--app", metavar="NAME", help="the app to verify (default: the stack's only app)")
    stack.add_argument("--outputs", type=Path, metavar="FILE",
                       help="outputs saved with `pulumi stack output --json [--show-secrets]` (default: ask pulumi)")
    add_project_dir(stack)
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
    add_secret_env(credential)
    add_certificate(credential)
    hosts = parser.add_argument_group("clouds and hosts")
    add_cloud_and_hosts(hosts, mail=True)
    output = parser.add_argument_group("output")
    add_format(output, "json")
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


def request_from(args: argparse.Namespace) -> VerifyRequest:
    """Return the typed request for the parsed `exo-oauth verify` flags (each field is the flag of that name)."""
    # stack_outputs has no flag: only drift, which has read the outputs already, sets it.
    return VerifyRequest(**{field.name: getattr(args, field.name) for field in fields(VerifyRequest)
                            if field.name != "stack_outputs"})


def run(args: argparse.Namespace) -> int:
    """Resolve the target, get the token, run the checks, print the report; return the exit status."""
    from ..verify.report import render_json, render_table  # noqa: PLC0415 - keep --help fast
    from ..verify.service import verify  # noqa: PLC0415 - loads msal and the checks

    result = verify(request_from(args), os.environ, prompt=lambda message: print(message, file=sys.stderr, flush=True))
    render = render_json if args.format == "json" else render_table
    sys.stdout.write(result.scrub(render(result.target, result.diagnosis, args.verbose)))
    return result.exit_status
