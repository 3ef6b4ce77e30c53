"""`exo-oauth review-comment`: the pull request comment, from saved `plan` and `diff` markdown and exit statuses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exo_domain.exit_codes import ExitCode, exit_help

from ..review.comment import COMMENT_LIMIT, Part, cut, review_markdown
from ..util.errors import UsageError
from ..util.files import read_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `review-comment` subcommand."""
    parser = subparsers.add_parser(
        "review-comment",
        help="assemble the pull request review comment from saved plan and diff output",
        description="Read the markdown, stderr and exit status that `exo-oauth plan --all --format markdown` and "
        "`exo-oauth diff --format markdown` left, print the whole review (for the job summary) and write the "
        "comment, cut to fit GitHub's limit, to --comment-out. " + exit_help(ExitCode.OK, ExitCode.USAGE),
    )
    for name in ("plan", "diff"):
        parser.add_argument(f"--{name}", type=Path, required=True, metavar="FILE", help=f"the {name} markdown")
        parser.add_argument(f"--{name}-stderr", type=Path, required=True, metavar="FILE", help=f"the {name}'s stderr")
        parser.add_argument(f"--{name}-status", type=int, required=True, metavar="N", help=f"the {name}'s exit status")
    parser.add_argument("--base", required=True, metavar="REF", help="the branch the pull request merges into")
    parser.add_argument("--run-url", required=True, metavar="URL", help="the workflow run, named in the cut note")
    parser.add_argument("--comment-out", type=Path, required=True, metavar="FILE", help="where to write the comment")
    parser.add_argument("--stacks-stderr", type=Path, metavar="FILE",
                        help="the stderr of `exo-oauth stacks --changed-since`: its last line, which stacks a preview "
                        "and deploy touch, goes under the verdict")
    parser.set_defaults(run=run)


def _read(path: Path, flag: str) -> str:

    return read_text(path, f"{flag} {path}", "a file the pull-request workflow saved")


def run(args: argparse.Namespace) -> int:
    """Print the whole review and write the comment."""
    plan, diff = (Part(_read(getattr(args, name), f"--{name}"), getattr(args, f"{name}_status"),
                       _read(getattr(args, f"{name}_stderr"), f"--{name}-stderr")) for name in ("plan", "diff"))
    stacks = _read(args.stacks_stderr, "--stacks-stderr") if args.stacks_stderr else ""
    text = review_markdown(args.base, plan, diff, stacks)
    try:
        args.comment_out.write_text(cut(text, COMMENT_LIMIT, args.run_url), encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--comment-out {args.comment_out}: cannot write it ({error.strerror})") from None
    sys.stdout.write(text)
    return ExitCode.OK
