"""`exo-oauth drift-report`: what to do with a stack's drift issue, from a saved `exo-oauth drift --format json`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exo_domain.exit_codes import ExitCode, exit_help

from ..util.errors import UsageError
from ..util.files import read_json

ISSUES_ALLOWED = "the output of `gh issue list --state open --label drift --json number,title`"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `drift-report` subcommand."""
    parser = subparsers.add_parser(
        "drift-report",
        help="decide what to do with a stack's drift issue, from a `drift --format json` report",
        description="Read the JSON of `exo-oauth drift --format json` and the open drift issues, and print one JSON "
        "object: `action` (`create` a new issue, `comment` on the open one, `close` it with a comment once the "
        "stack is clean, or `none`), `issue` (the open issue's number, or null), `title` and `body` (the issue's "
        "markdown). The exit status is the report's own. "
        + exit_help(ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_RUN, ExitCode.DRIFT),
    )
    parser.add_argument("--report", type=Path, required=True, action="append", metavar="FILE",
                        help="the saved drift JSON; again for another report of the same stack (say, its exchange "
                        "check read from a runner's results): their checks are joined")
    parser.add_argument("--issues", type=Path, required=True, metavar="FILE",
                        help="the open drift issues, saved with `gh issue list --state open --label drift "
                        "--json number,title`")
    parser.add_argument("--run-url", metavar="URL", help="the workflow run to link")
    parser.set_defaults(run=run)


def _open_issue(issues: Any, title: str, where: str) -> int | None:
    """Return the number of the open issue titled exactly `title`, or None."""
    if not isinstance(issues, list) or not all(
            isinstance(i, Mapping) and isinstance(i.get("number"), int) and isinstance(i.get("title"), str)
            for i in issues):
        raise UsageError(f"{where}: not a list of {{number, title}}; allowed: {ISSUES_ALLOWED}")
    return next((int(i["number"]) for i in issues if i["title"] == title), None)


def _report(path: Path) -> dict[str, Any]:
    """Read one saved `drift --format json` report; raise UsageError naming the file when it is not one."""
    where = f"--report {path}"
    document = read_json(path, where, "the output of `exo-oauth drift --format json` (the file is empty when drift "
                         "itself failed: see its error above)")
    if not isinstance(document, Mapping) or not isinstance(document.get("checks"), list) or not isinstance(
            document.get("exitStatus"), int) or not isinstance(document.get("stack"), str):
        raise UsageError(f"{where}: no `stack`, `checks` and `exitStatus`; allowed: the output of `exo-oauth drift "
                         "--format json`")
    return dict(document)


def run(args: argparse.Namespace) -> int:
    """Print the decision, the title and the issue text; return the report's exit status."""
    from ..fleet.drift import issue_title, merge_reports, render_markdown  # noqa: PLC0415

    documents = [_report(path) for path in args.report]
    stacks = sorted({d["stack"] for d in documents})
    if len(stacks) > 1:
        raise UsageError(f"--report: reports of stacks {', '.join(stacks)}; allowed: reports of one stack")
    document = merge_reports(documents)
    title = issue_title(document["stack"])
    where_issues = f"--issues {args.issues}"
    number = _open_issue(read_json(args.issues, where_issues, ISSUES_ALLOWED), title, where_issues)
    status: int = document["exitStatus"]
    if status == ExitCode.OK:
        action = "none" if number is None else "close"
    else:
        action = "create" if number is None else "comment"
    decision = {"action": action, "issue": number, "title": title, "body": render_markdown(document, args.run_url)}
    sys.stdout.write(json.dumps(decision, indent=2) + "\n")
    return status
