"""`exo-oauth rotation-due`: is credential rotation the only change a stack's preview shows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UsageError

EXIT_DUE, EXIT_NONE, EXIT_OTHER = 0, 1, 3
SHOWN = 5
"""Other changes named in the message; the preview has the rest."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `rotation-due` subcommand."""
    parser = subparsers.add_parser(
        "rotation-due",
        help="read `pulumi preview --refresh --json`: exit 0 when only credential rotation is pending",
        description="Read the output of `pulumi preview --refresh --json` for one stack and print one line. Exit 0 "
        "when the only pending changes are credential rotation (the rotation clock and the secret or certificate "
        "it renews): the scheduled rotation may run `pulumi up`. Exit 1 when nothing changes, 3 when other changes "
        "are pending (they need a reviewed deploy), 2 on bad input.",
    )
    parser.add_argument("--preview-json", type=Path, required=True, metavar="FILE",
                        help="the saved output of `pulumi preview --refresh --json --stack NAME`")
    parser.add_argument("--stack", metavar="NAME", help="the stack's name, for the message")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Judge the preview and print the verdict."""
    from ..rotation import DUE, NONE, judge, read_preview  # noqa: PLC0415

    where = f"--preview-json {args.preview_json}"
    try:
        document = json.loads(args.preview_json.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"{where}: cannot read it ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{where}: not JSON; allowed: the output of `pulumi preview --refresh --json`") from None
    try:
        verdict = judge(read_preview(document))
    except ValueError as error:
        raise UsageError(f"{where}: {error}; allowed: the output of `pulumi preview --refresh --json`") from None
    stack = args.stack or "the stack"
    if verdict.status == DUE:
        print(f"{stack}: rotation due, and nothing else: {', '.join(s.describe() for s in verdict.rotation)}")
        return EXIT_DUE
    if verdict.status == NONE:
        print(f"{stack}: no rotation due and no change pending")
        return EXIT_NONE
    print(f"{stack}: changes other than rotation are pending, so the scheduled rotation leaves it for a reviewed "
          f"deploy: {', '.join(s.describe() for s in verdict.other[:SHOWN])}"
          + (f" and {len(verdict.other) - SHOWN} more" if len(verdict.other) > SHOWN else ""))
    return EXIT_OTHER
