"""Which stacks changed since a git ref, and their effective access there and in the working tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .access_diff import stack_entry
from .errors import UsageError, last_line
from .lifetime import die_with_parent
from .progress import Progress
from .project import load_stack, stack_names, stack_of

CODE_PATHS = ("__main__.py", "Pulumi.yaml", "pyproject.toml", "components/", "exo_oauth/", "policy/")
"""The program: paths whose change can change any stack's plan or verdict, so every stack is planned, previewed
and deployed again. The only such list: `diff`, `stacks --changed-since` and the workflows (through `stacks`) use it."""
GIT_TIMEOUT_SECONDS = 120


def _git(project_dir: Path, *argv: str) -> str:
    try:
        done = subprocess.run(["git", *argv], cwd=project_dir, capture_output=True, text=True, check=False,
                              timeout=GIT_TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise UsageError("git is not on PATH; allowed: run exo-oauth diff where git is installed") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(argv[:2])} failed: {last_line(done.stderr)}")
    return done.stdout


def check_ref(project_dir: Path, ref: str, flag: str) -> None:
    """Raise UsageError naming `ref` and what to do when it is not a commit this clone has."""
    try:
        _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(f"{flag} {ref!r}: no such commit in this clone; allowed: a branch, tag or commit that "
                         f"exists here (run `git fetch origin`, or clone with full history: fetch-depth 0), or "
                         f"another {flag}") from None


def program_changed(paths: Sequence[str]) -> bool:
    """Return True if any path is part of the program (CODE_PATHS): then every stack is affected."""
    return any(p == c or (c.endswith("/") and p.startswith(c)) for p in paths for c in CODE_PATHS)


def changed_paths(project_dir: Path, base: str, flag: str = "--base") -> list[str]:
    """Return project-relative paths that differ between `base` and the working tree, untracked files included."""
    check_ref(project_dir, base, flag)
    tracked = _git(project_dir, "diff", "--name-only", "--relative", base, "--").splitlines()
    untracked = _git(project_dir, "ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(tracked) | set(untracked))


def stacks_to_plan(paths: Sequence[str], base_stacks: set[str], head_stacks: set[str]) -> list[str]:
    """Return the stacks whose plan can differ: all when program code changed, else those whose file changed."""
    if program_changed(paths):
        return sorted(base_stacks | head_stacks)
    named = {name for p in paths if (name := stack_of(p)) is not None}
    return sorted(named & (base_stacks | head_stacks))


def _base_tree(project_dir: Path, base: str, into: Path) -> Path:
    """Extract the project folder as it is at `base` into `into`; return the project folder there."""
    prefix = _git(project_dir, "rev-parse", "--show-prefix").strip()
    archive = into / "base.tar"
    _git(project_dir, "archive", "--format=tar", f"--output={archive}", base, "--", ".")
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree" / prefix


def _plan_base(base_dir: Path, stacks: Sequence[str]) -> dict[str, Any]:
    """Plan stacks with the base's own code, in a separate interpreter whose imports resolve to the base tree."""
    if not stacks:
        return {}
    argv = [sys.executable, "-m", "exo_oauth.cli", "plan", "--format", "json", "--project-dir", str(base_dir)]
    for name in stacks:
        argv += ["--stack", name]
    env = os.environ | {"PYTHONPATH": str(base_dir)}
    # Its own session, so its workers can be killed with it as a group; and it dies if this process is killed.
    process = subprocess.Popen(argv, cwd=base_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode not in (0, 3):
        raise UsageError(f"planning the base failed: {last_line(stderr)}")
    return {s["stack"]: s["outputs"].get("apps", {}) for s in json.loads(stdout)["stacks"]}


def access_changes(project_dir: Path, base: str) -> list[dict[str, Any]]:
    """Plan the stacks that changed since `base` on both sides; return each one's access diff (stack_entry)."""
    from .plan import plan_stacks  # noqa: PLC0415 - imports Pulumi; `stacks --changed-since` must not wait for it

    paths = changed_paths(project_dir, base)
    with tempfile.TemporaryDirectory(prefix="exo-oauth-diff-") as tmp:
        base_dir = _base_tree(project_dir, base, Path(tmp))
        base_stacks, head_stacks = set(stack_names(base_dir)), set(stack_names(project_dir))
        names = stacks_to_plan(paths, base_stacks, head_stacks)
        before = _plan_base(base_dir, [n for n in names if n in base_stacks])
    loaded = [load_stack(project_dir, n) for n in names if n in head_stacks]
    progress = Progress("diff: planning the working tree", len(loaded))
    try:
        plans = plan_stacks(project_dir, loaded, datetime.now(UTC), on_done=progress.advance)
    finally:
        progress.close()
    after = {p.stack: p.outputs.get("apps", {}) for p in plans}
    return [stack_entry(n, before.get(n) if n in base_stacks else None, after.get(n) if n in head_stacks else None)
            for n in names]


def stacks_changed_since(project_dir: Path, ref: str, stacks: Sequence[str]) -> list[str]:
    """Return the stacks (of `stacks`) to run again since `ref`: all when the program changed, else changed files.

    Compares with the merge base, so a pull request is not charged with what its base branch did since it forked.
    """
    check_ref(project_dir, ref, "--changed-since")
    fork_point = _git(project_dir, "merge-base", ref, "HEAD").strip()
    return stacks_to_plan(changed_paths(project_dir, fork_point, "--changed-since"), set(), set(stacks))
