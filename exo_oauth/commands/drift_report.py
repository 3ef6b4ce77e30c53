"""`exo-oauth drift-report`: the drift issue's text, from a saved `exo-oauth drift --format json` report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `drift-report` subcommand."""
    parser = subparsers.add_parser(
        "drift-report",
        help="turn a `drift --format json` report into the markdown of the stack's drift issue",
        description="Read the JSON of `exo-oauth drift --format json` and print the markdown of the stack's drift "
        "issue. Exit with the report's own status (0 clean: close the issue; drift, or a check that could not run: "
        "open or update it), or 2 on bad input.",
    )
    parser.add_argument("--report", type=Path, required=True, metavar="FILE", help="the saved drift JSON")
    parser.add_argument("--run-url", metavar="URL", help="the workflow run to link")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the issue text; return the report's exit status."""
    from ..drift import render_markdown  # noqa: PLC0415
    from ..files import read_json  # noqa: PLC0415

    where = f"--report {args.report}"
    document = read_json(args.report, where, "the output of `exo-oauth drift --format json` (the file is empty "
                         "when drift itself failed: see its error above)")
    if not isinstance(document, Mapping) or not isinstance(document.get("checks"), list) or not isinstance(
            document.get("exitStatus"), int):
        raise UsageError(f"{where}: no `checks` and `exitStatus`; allowed: the output of `exo-oauth drift --format "
                         "json`")
    sys.stdout.write(render_markdown(document, args.run_url))
    status: int = document["exitStatus"]
    return status
