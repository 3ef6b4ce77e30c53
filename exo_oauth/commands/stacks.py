"""`exo-oauth stacks`: the stacks a workflow runs, as the JSON list of a GitHub Actions matrix."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from exo_domain.exit_codes import ExitCode, exit_help

from ..fleet.matrix import MAX_JOBS, matrix_entries, parse_batch_size, parse_shard, shard_of
from ..util.errors import UsageError
from .flags import add_project_dir, chosen_project_dir, stack_name

if TYPE_CHECKING:
    from ..review.changes import Changed

SHOWN = 20
"""Stack names an error lists before `and N more`."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `stacks` subcommand."""
    parser = subparsers.add_parser(
        "stacks",
        help="print the stacks to run as a JSON list for a GitHub Actions matrix",
        description="Select stacks (every stack, the stacks whose file or program changed since a git ref, or named "
        "ones), optionally keep one shard of them, and print one line: a JSON list with one entry per job, each "
        "entry the stack names of one batch separated by spaces. Notes go to stderr. "
        + exit_help(ExitCode.OK, ExitCode.USAGE),
    )
    which = parser.add_argument_group("which stacks")
    which.add_argument("--all", action="store_true", help="every stack (same as --select all)")
    which.add_argument("--changed-since", metavar="REF",
                       help="the stacks whose file changed since REF's merge base with HEAD; when the program "
                       "(exo_oauth.review.changes.CODE_PATHS) changed, also those whose offline plan (resources, "
                       "outputs or Exchange scripts) differs there, or every stack if the plans cannot be compared; "
                       "an empty REF means every stack")
    which.add_argument("--select", metavar="SPEC",
                       help="changed (needs --changed-since), all, or stack names separated by commas or spaces: "
                       "the value of a workflow_dispatch input, passed as it is")
    which.add_argument("--if-unknown-ref", choices=("fail", "all"), default="fail",
                       help="when REF is not in this clone: stop with a usage error (default), or take every stack")
    jobs = parser.add_argument_group("matrix")
    jobs.add_argument("--shard", metavar="N/M", help="keep only the Nth of M near-equal slices of the selection")
    jobs.add_argument("--batch-size", default="1", metavar="K",
                      help="stacks per job (default 1), or auto: the fewest per job that fit --max-jobs")
    jobs.add_argument("--max-jobs", type=int, default=MAX_JOBS, metavar="J",
                      help=f"jobs a matrix may have (default {MAX_JOBS}, GitHub's limit)")
    add_project_dir(parser)
    parser.set_defaults(run=run)


def _selection(args: argparse.Namespace) -> str:
    if args.all and args.select not in (None, "all"):
        raise UsageError(f"--all and --select {args.select!r}: both given; allowed: one of them")
    if args.all:
        return "all"
    if args.select is not None:
        return args.select.strip() or "changed"
    if args.changed_since is not None:
        return "changed"
    raise UsageError("no selection; allowed: --all, --changed-since REF, or --select SPEC")


def _changed(project_dir: Path, ref: str | None, unknown: str, stacks: list[str]) -> tuple[list[str], str]:
    from ..review.changes import check_ref, stacks_changed_since  # noqa: PLC0415 - runs git only when asked

    if ref is None:
        raise UsageError("--select changed: no ref to compare with; allowed: --changed-since REF")
    if not ref:
        return stacks, "no ref to compare with (a first run): every stack"
    if unknown == "all":
        try:
            check_ref(project_dir, ref, "--changed-since")
        except UsageError:
            return stacks, f"{ref} is not in this clone (history rewritten?): every stack"
    changed = stacks_changed_since(project_dir, ref, stacks)
    return changed.stacks, _why(ref, changed)


def _why(ref: str, changed: Changed) -> str:
    """Say why these stacks: the changed stack files, and after a program change which plans differ and how many not."""
    if not changed.program:
        return f"changed since {ref}"
    if changed.incomparable is not None:
        return f"the program changed since {ref}, and the plans could not be compared ({changed.incomparable}): " \
               "every stack"
    moved = [f"{name} ({', '.join(parts)})" for name, parts in changed.plans.items()]
    return (f"changed since {ref}: {len(changed.files)} stack file(s) changed; the program changed, and the offline "
            f"plan differs for {len(moved)} other stack(s){': ' + _listed(moved) if moved else ''}; "
            f"{changed.left_alone} stack(s) left alone, their plan unchanged")


def _listed(names: list[str]) -> str:
    """Return the first SHOWN names, and how many more."""
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _named(spec: str, stacks: list[str], examples: list[str]) -> tuple[list[str], str]:
    names = sorted({stack_name(word) for word in re.split(r"[\s,]+", spec.strip())} - {""})
    if named_examples := [n for n in names if n in examples]:
        raise UsageError(f"--select {spec!r}: {', '.join(named_examples)}: example stack(s), never run by a "
                         "workflow (exo-oauth:example: true); allowed: the stacks of your tenants (a copy of an "
                         "example runs once exo-oauth:example is removed)")
    unknown = [n for n in names if n not in stacks]
    if unknown:
        raise UsageError(f"--select {spec!r}: no stack {', '.join(unknown)}; allowed: changed, all, or stack names "
                         f"({_listed(stacks)})")
    return names, "named"


def run(args: argparse.Namespace) -> int:
    """Print the matrix entries as one JSON line; say on stderr what was selected and why.

    Example stacks (`exo-oauth:example: true`) are never selected; no stack files at all is an empty list.
    """
    from ..fleet.project import is_example_stack, stack_names  # noqa: PLC0415

    shard = parse_shard(args.shard) if args.shard else None
    batch_size = parse_batch_size(args.batch_size)
    if args.max_jobs < 1:
        raise UsageError(f"--max-jobs {args.max_jobs}: allowed: a whole number from 1 up")
    project_dir = chosen_project_dir(args)
    every = stack_names(project_dir)
    examples = [name for name in every if is_example_stack(project_dir, name)]
    stacks = [name for name in every if name not in examples]
    selection = _selection(args)
    if selection == "all":
        chosen, why = stacks, "every stack"
    elif selection == "changed":
        chosen, why = _changed(project_dir, args.changed_since, args.if_unknown_ref, stacks)
    else:
        chosen, why = _named(selection, stacks, examples)
    note = f"exo-oauth stacks: {len(chosen)} of {len(stacks)} stacks ({why})"
    if shard is not None:
        chosen = shard_of(chosen, shard)
        note += f", shard {shard.index}/{shard.count}: {len(chosen)}"
    entries = matrix_entries(chosen, batch_size, args.max_jobs)
    left_out = f"; example stacks never run: {_listed(examples)}" if examples else ""
    print(f"{note}, in {len(entries)} job(s){left_out}", file=sys.stderr)
    print(json.dumps(entries, separators=(",", ":")))
    return ExitCode.OK
