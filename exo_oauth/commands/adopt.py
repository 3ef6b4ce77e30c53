"""`exo-oauth adopt`: write a stack for a tenant's existing mail apps, and the import file that takes them over."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from exo_domain.exit_codes import ExitCode, exit_help

from ..tenant.request import AdoptRequest
from .flags import add_format, add_project_dir, stack_name
from .graph_signin import add_signin_arguments, audit_request


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `adopt` subcommand."""
    parser = subparsers.add_parser(
        "adopt",
        help="write stacks/Pulumi.NAME.yaml for a tenant's existing mail apps, and the file that imports them",
        description="Read the tenant's mail apps from Microsoft Graph (GET only), write the stack file that declares "
        "them and stacks/NAME.import.json for `pulumi import --file`, so the first `pulumi up` takes the objects over "
        "instead of creating them. Prints what `pulumi up` will then change. Written with findings, it fails; nothing "
        "is written on bad input or when Graph or the login host cannot be read. "
        + exit_help(ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.NOT_RUN),
    )
    parser.add_argument("--tenant", required=True, metavar="GUID", help="the tenant ID")
    parser.add_argument("--stack", type=stack_name, required=True, metavar="NAME",
                        help="the stack to write (stacks/Pulumi.NAME.yaml)")
    parser.add_argument("--exchange-export", type=Path, metavar="FILE",
                        help="the Exchange export (see `exo-oauth audit --export-script DIR`): app-only mailboxes")
    parser.add_argument("--default-owner", metavar="GUID", help="owner object id for apps that have none")
    parser.add_argument("--organization", metavar="DOMAIN",
                        help="the tenant's *.onmicrosoft.com domain for the Exchange scripts")
    parser.add_argument("--force", action="store_true", help="overwrite an existing stack file")
    parser.add_argument("--revoke-excess", action="store_true",
                        help="also list the app role assignments and delegated grants the stack does not declare "
                        "(full_access_as_app, Graph mail permissions, ...) in the import file, so the first `pulumi "
                        "up` deletes them; check first that no daemon depends on them")
    add_project_dir(parser)
    add_format(parser, "json")
    add_signin_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the target, read the tenant, write the two files, print the review; return the exit status."""
    from ..tenant.adopt_run import adopt  # noqa: PLC0415 - imports Pulumi for the plan; --help must not
    from ..tenant.graph import GraphError  # noqa: PLC0415

    try:
        request = AdoptRequest(audit_request(args), stack=args.stack, project_dir=args.project_dir,
                               default_owner=args.default_owner, organization=args.organization, force=args.force,
                               revoke_excess=args.revoke_excess)
        result = adopt(request, os.environ, datetime.now(UTC))
    except GraphError as error:
        print(f"exo-oauth adopt: {error}", file=sys.stderr)
        return ExitCode.NOT_RUN
    sys.stdout.write(result.render(args.format))
    return ExitCode.FAILED if result.findings else ExitCode.OK
