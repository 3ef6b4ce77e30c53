"""`exo-oauth rotation-due`: is credential rotation the only change a stack's preview shows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UsageError
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
        "`other` when other changes are pending (they need a reviewed deploy). Say why on stderr. Exit 0, or 2 on "
        "bad input.",
    )
    parser.add_argument("--preview-json", type=Path, required=True, metavar="FILE",
                        help="the saved output of `pulumi preview --refresh --json --stack NAME`")
    parser.add_argument("--stack", type=stack_name, metavar="NAME", help="the stack's name, for the message")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Judge the preview as of now (UTC) and print the verdict."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from ..files import read_json  # noqa: PLC0415
    from ..rotation import DUE, NONE, judge, read_preview  # noqa: PLC0415

    where = f"--preview-json {args.preview_json}"
    document = read_json(args.preview_json, where, "the output of `pulumi preview --refresh --json`")
    try:
        verdict = judge(read_preview(document), datetime.now(UTC))
    except ValueError as error:
        raise UsageError(f"{where}: {error}; allowed: the output of `pulumi preview --refresh --json`") from None
    stack = args.stack or "the stack"
    if verdict.status == DUE:
        why = f"rotation due, and nothing else: {', '.join(s.describe() for s in verdict.rotation)}"
    elif verdict.status == NONE:
        why = "no rotation due and no change pending"
    else:
        more = f" and {len(verdict.other) - SHOWN} more" if len(verdict.other) > SHOWN else ""
        why = (f"changes other than rotation are pending, so the scheduled rotation leaves it for a reviewed deploy: "
               f"{', '.join(s.describe() for s in verdict.other[:SHOWN])}{more}")
    print(f"exo-oauth rotation-due: {stack}: {why}", file=sys.stderr)
    print(verdict.status)
    return 0
