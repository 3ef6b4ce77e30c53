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
from .plan import plan_stacks
from .project import load_stack, stack_names, stack_of

CODE_PATHS = ("__main__.py", "Pulumi.yaml", "pyproject.toml", "components/", "exo_oauth/")
"""Paths whose change can change any stack's plan: then every stack is planned on both sides."""
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


def changed_paths(project_dir: Path, base: str) -> list[str]:
    """Return project-relative paths that differ between `base` and the working tree, untracked files included."""
    _git(project_dir, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    tracked = _git(project_dir, "diff", "--name-only", "--relative", base, "--").splitlines()
    untracked = _git(project_dir, "ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(tracked) | set(untracked))


def stacks_to_plan(paths: Sequence[str], base_stacks: set[str], head_stacks: set[str]) -> list[str]:
    """Return the stacks whose plan can differ: all when program code changed, else those whose file changed."""
    if any(p == c or (c.endswith("/") and p.startswith(c)) for p in paths for c in CODE_PATHS):
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
    paths = changed_paths(project_dir, base)
    with tempfile.TemporaryDirectory(prefix="exo-oauth-diff-") as tmp:
        base_dir = _base_tree(project_dir, base, Path(tmp))
        base_stacks, head_stacks = set(stack_names(base_dir)), set(stack_names(project_dir))
        names = stacks_to_plan(paths, base_stacks, head_stacks)
        before = _plan_base(base_dir, [n for n in names if n in base_stacks])
    loaded = [load_stack(project_dir, n) for n in names if n in head_stacks]
    after = {p.stack: p.outputs.get("apps", {}) for p in plan_stacks(project_dir, loaded, datetime.now(UTC))}
    return [stack_entry(n, before.get(n) if n in base_stacks else None, after.get(n) if n in head_stacks else None)
            for n in names]
