"""The pull request's review comment: the policy verdict, the access diff and the plan, cut to fit a comment."""

from __future__ import annotations

import re
from dataclasses import dataclass

from exo_domain.exit_codes import ExitCode

from ..util.errors import last_line
from .access_diff import REPLACED_LINE
from .markdown import escape, fence

COMMENT_LIMIT = 60_000
"""Characters kept in the comment: GitHub takes at most 65,536, and the cut note needs room."""
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
"""A line that opens or closes a fenced code block (CommonMark)."""


@dataclass(frozen=True)
class Part:
    """One command's result: its markdown, exit status and stderr."""

    markdown: str
    status: int
    stderr: str


def verdict(plan: Part) -> str:
    """Return the comment's bold first line, from the plan's exit status."""
    if plan.status == 0:
        return "Policy: every mandatory rule passes."
    if plan.status == ExitCode.POLICY:
        return "Policy: a mandatory rule fails (see the plan below), so this check fails."
    return f"The plan did not run (exit {plan.status}); its last error line is below."


def review_markdown(base: str, plan: Part, diff: Part, stacks: str = "") -> str:
    """Return the whole review: the verdict, the diff against `base` (or why it failed) and the plan, uncut.

    `stacks` is the stderr of `exo-oauth stacks --changed-since`: its last line (which stacks a preview and deploy
    touch, and after a code change how many it leaves alone) follows the verdict; empty, nothing does.
    """
    # Error lines can carry stack values (a display name, a mailbox): fenced, so nothing in them renders.
    changes = diff.markdown if diff.status == 0 else (
        f"exo-oauth diff failed (exit {diff.status}):\n\n{fence(last_line(diff.stderr))}")
    plan_error = "" if plan.status in (ExitCode.OK, ExitCode.POLICY) else f"{fence(last_line(plan.stderr))}\n"
    replaced = sum(line.startswith(REPLACED_LINE) for line in diff.markdown.splitlines()) if diff.status == 0 else 0
    warning = (f"**This deploy replaces the secret devices use now in {replaced} app{'s' if replaced != 1 else ''}: "
               "they stop signing in until they get the new one (see ⚠️ below).**\n\n") if replaced else ""
    selection = f"Stacks to preview and deploy: {escape(last_line(stacks))}\n\n" if stacks.strip() else ""
    return (f"## exo-oauth review\n\n**{verdict(plan)}**\n\n{plan_error}{warning}{selection}### Changes against "
            f"{escape(base)}\n\n{changes}\n### Plan of every stack\n\n{plan.markdown}")


def cut(text: str, limit: int, run_url: str) -> str:
    """Return `text`, or its whole lines within `limit` characters, any open fence closed, and a note.

    The note says where it was cut and that the run's job summary has the whole review.
    """
    if len(text) <= limit:
        return text
    kept = text[:limit]
    kept = kept[:kept.rfind("\n") + 1]
    lines = kept.splitlines()
    opened = ""
    for line in lines:
        marker = FENCE.match(line)
        if marker is None:
            continue
        run = marker.group(1)
        if not opened:
            opened = run
        elif run[0] == opened[0] and len(run) >= len(opened) and not line.strip()[len(run):]:
            opened = ""
    closing = f"{opened}\n" if opened else ""
    return (f"{kept}{closing}\n_Cut after {len(lines)} lines ({len(kept)} characters): the job summary of run "
            f"{run_url} has the whole review._\n")
