"""`exo-oauth rotation-due`: is credential rotation the only change a stack's preview shows."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from exo_domain.exit_codes import ExitCode, exit_help

from ..fleet.rotation_due import BLOCKED, DUE, NONE, blocked, judge, read_preview
from ..review.markdown import fence
from ..util.errors import UsageError
from ..util.files import read_json
from .drift_report import _open_issue
from .flags import stack_name

SHOWN = 5
"""Other changes named in the message; the preview has the rest."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `rotation-due` subcommand."""
    parser = subparsers.add_parser(
        "rotation-due",
        help="read `pulumi preview --refresh --json`: is credential rotation the only pending change?",
        description="Read the output of `pulumi preview --refresh --json` for one stack. Print the verdict on "
        "stdout: `due` when the only pending changes are credential rotation (the rotation clock and the secret or "
        "certificate it renews, a secret slot replaced or dropped only once its old secret has ended, never both slots "
        "of an app at once), so the scheduled rotation may run `pulumi up`; `none` when nothing is pending; "
        "`other` when other changes are pending (they need a reviewed deploy); `blocked` when they are pending beside "
        "a due rotation, which then waits for that deploy while the credential devices use runs out. Say why on "
        "stderr, naming each blocked app, the end date and what blocks it. With --issue-out, write what to do with "
        "the stack's `rotation-blocked` issue as JSON: `action` (`create`, `comment`, `close` once nothing blocks, "
        "or `none`), `issue`, `title` and `body`. "
        + exit_help(ExitCode.OK, ExitCode.USAGE),
    )
    parser.add_argument("--preview-json", type=Path, required=True, metavar="FILE",
                        help="the saved output of `pulumi preview --refresh --json --stack NAME`")
    parser.add_argument("--stack", type=stack_name, metavar="NAME",
                        help="the stack's name, for the message (and the issue title)")
    parser.add_argument("--issues", type=Path, metavar="FILE",
                        help=f"the open blocked-rotation issues, saved with `gh issue list --state open --label "
                        f"{LABEL} --json number,title` (with --issue-out)")
    parser.add_argument("--issue-out", type=Path, metavar="FILE",
                        help="write the issue decision here, as JSON (needs --stack and --issues)")
    parser.add_argument("--run-url", metavar="URL", help="the workflow run, linked in the issue")
    parser.set_defaults(run=run)


LABEL = "rotation-blocked"
"""The label of the issue a blocked rotation opens (one open issue per stack)."""


def issue_title(stack: str) -> str:
    """Return the title of the stack's blocked-rotation issue."""
    return f"Rotation blocked: stack {stack}"


def run(args: argparse.Namespace) -> int:
    """Judge the preview as of now (UTC), print the verdict, and write the issue decision when asked."""
    if args.issue_out is not None and (args.stack is None or args.issues is None):
        raise UsageError("--issue-out needs --stack NAME and --issues FILE; allowed: all three, or none of them")
    number = _open_issue_number(args) if args.issue_out is not None else None
    where = f"--preview-json {args.preview_json}"
    document = read_json(args.preview_json, where, "the output of `pulumi preview --refresh --json`")
    now = datetime.now(UTC)
    try:
        steps = read_preview(document)
    except ValueError as error:
        raise UsageError(f"{where}: {error}; allowed: the output of `pulumi preview --refresh --json`") from None
    verdict = judge(steps, now)
    waiting = blocked(steps, verdict, now)
    stack = args.stack or "the stack"
    status = BLOCKED if waiting else verdict.status
    if status == DUE:
        why = f"rotation due, and nothing else: {', '.join(s.describe() for s in verdict.rotation)}"
    elif status == NONE:
        why = "no rotation due and no change pending"
    elif status == BLOCKED:
        why = (f"{'; '.join(b.describe(SHOWN) for b in waiting)}. The scheduled rotation leaves the stack to a "
               "reviewed deploy: run the deploy workflow for it before that date")
    else:
        more = f" and {len(verdict.other) - SHOWN} more" if len(verdict.other) > SHOWN else ""
        why = (f"changes other than rotation are pending, so the scheduled rotation leaves it for a reviewed deploy: "
               f"{', '.join(s.describe() for s in verdict.other[:SHOWN])}{more}")
    print(f"exo-oauth rotation-due: {stack}: {why}", file=sys.stderr)
    if args.issue_out is not None:
        _write_issue(args, number, status == BLOCKED, f"exo-oauth rotation-due: {stack}: {why}")
    print(status)
    return ExitCode.OK


def _open_issue_number(args: argparse.Namespace) -> int | None:
    """Return the number of the stack's open blocked-rotation issue in --issues, or None."""
    where = f"--issues {args.issues}"
    allowed = f"the output of `gh issue list --state open --label {LABEL} --json number,title`"
    return _open_issue(read_json(args.issues, where, allowed), issue_title(args.stack), where)


def _write_issue(args: argparse.Namespace, number: int | None, is_blocked: bool, why: str) -> None:
    """Write the issue decision: open or update the stack's issue while blocked, close it once not."""
    actions = {(True, True): "create", (True, False): "comment", (False, True): "none", (False, False): "close"}
    action = actions[is_blocked, number is None]
    run = f" ([run]({args.run_url}))" if args.run_url else ""
    body = (f"**The scheduled credential rotation of stack `{args.stack}` is blocked**{run}. Deploy the pending "
            f"changes in a reviewed deploy before the date below, or devices stop signing in.\n\n{fence(why)}\n"
            if is_blocked else f"Nothing blocks the scheduled rotation of stack `{args.stack}` any more{run}.\n")
    decision = {"action": action, "issue": number, "title": issue_title(args.stack), "body": body}
    try:
        args.issue_out.write_text(json.dumps(decision, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--issue-out {args.issue_out}: cannot write it ({error.strerror})") from None
