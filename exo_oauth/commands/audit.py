"""`exo-oauth audit`: read a tenant's mail apps from Microsoft Graph (read-only) and say what is wrong with them."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from exo_domain.exit_codes import ExitCode, exit_help

from ..policy.rules import DEFAULT_EXPIRY_WARNING_DAYS, DEFAULT_MAX_CREDENTIAL_DAYS
from ..util.errors import UsageError
from .flags import add_format
from .graph_signin import add_signin_arguments, audit_request
from .out_dir import write_out_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `audit` subcommand."""
    parser = subparsers.add_parser(
        "audit",
        help="find every app that requests or holds IMAP/POP/SMTP access in a tenant and report what is wrong",
        description="Sign in to Microsoft Graph (device code for an admin, or client credentials of a read-only app "
        "with Application.Read.All and Directory.Read.All), read every app registration and service principal that "
        "requests or holds IMAP, POP or SMTP access, and report findings with a code, the object and the fix. Only "
        "GET requests: the tenant is never changed. Findings fail; a Graph or login host that cannot be read is "
        "not run. "
        + exit_help(ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.NOT_RUN),
    )
    parser.add_argument("--tenant", metavar="GUID", help="the tenant ID (required unless --export-script)")
    parser.add_argument("--exchange-export", type=Path, metavar="FILE",
                        help="also judge Exchange Online's side, from the JSON the export script wrote")
    parser.add_argument("--export-script", type=Path, metavar="DIR",
                        help="write the read-only Exchange Online PowerShell export script, and the module it "
                        "imports, into DIR and exit")
    add_format(parser, "markdown", "json")
    parser.add_argument("--warn-days", type=int, metavar="DAYS",
                        help="report credentials that end within this many days (default: the policy's, "
                        f"{DEFAULT_EXPIRY_WARNING_DAYS})")
    parser.add_argument("--max-days", type=int, metavar="DAYS",
                        help="report credentials that live longer than this (default: the policy's, "
                        f"{DEFAULT_MAX_CREDENTIAL_DAYS})")
    add_signin_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the export script, or sign in, read, judge and report; return the exit status."""
    if args.export_script is not None:
        return _write_export_script(args.export_script)
    if args.tenant is None:
        raise UsageError("--tenant: required; allowed: the tenant ID (a GUID)")
    from ..tenant.graph import GraphError  # noqa: PLC0415
    from ..tenant.report import render_json, render_markdown, render_text  # noqa: PLC0415
    from ..tenant.survey import survey  # noqa: PLC0415

    try:
        request = audit_request(args, warn_days=args.warn_days, max_days=args.max_days)
        result = survey(request, os.environ, datetime.now(UTC))
    except GraphError as error:
        print(f"exo-oauth audit: {error}", file=sys.stderr)
        return ExitCode.NOT_RUN
    tenant_id = result.tenant.tenant_id
    if args.format == "json":
        text = render_json(tenant_id, result.findings, result.calls)
    else:
        text = (render_markdown if args.format == "markdown" else render_text)(tenant_id, result.findings)
    sys.stdout.write(text)
    return ExitCode.FAILED if result.findings else ExitCode.OK


def _write_export_script(folder: Path) -> int:
    from exo_domain.powershell import ps_literal  # noqa: PLC0415

    from ..tenant.exchange_export import EXPORT_SCRIPT, export_script  # noqa: PLC0415

    write_out_dir("--export-script", folder, {EXPORT_SCRIPT: export_script()})
    script = folder.resolve() / EXPORT_SCRIPT
    print(f"exo-oauth audit: wrote {script} and the module beside it; in pwsh, Connect-ExchangeOnline, then run it: "
          f"& {ps_literal(str(script))}", file=sys.stderr)
    return ExitCode.OK
