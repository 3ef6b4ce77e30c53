"""`exo-oauth diff`: what changes in effective access between a git ref and the working tree, per tenant."""

from __future__ import annotations

import argparse
import sys

from exo_domain.exit_codes import ExitCode, exit_help

from .flags import add_format, add_project_dir, chosen_project_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `diff` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="show who gains or loses access between a git ref and the working tree, per tenant",
        description="Plan, offline, the stacks whose files or code changed since REF, at REF and in the working "
        "tree, and list apps, permissions, mailbox rights and credentials that change. "
        + exit_help(ExitCode.OK, ExitCode.USAGE),
    )
    parser.add_argument("--base", default="origin/main", metavar="REF", help="git ref to compare with (default: "
                        "origin/main)")
    add_format(parser, "markdown", "json")
    add_project_dir(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Plan the changed stacks on both sides and print the access diff."""
    from ..review.access_diff import render_json, render_markdown, render_text  # noqa: PLC0415
    from ..review.changes import access_changes  # noqa: PLC0415 - imports Pulumi; --help must not

    project_dir = chosen_project_dir(args)
    entries = access_changes(project_dir, args.base)
    render = {"markdown": render_markdown, "json": render_json, "text": render_text}[args.format]
    sys.stdout.write(render(args.base, entries))
    return ExitCode.OK
