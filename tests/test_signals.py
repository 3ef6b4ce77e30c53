"""Nothing is left running or behind when plan or diff is signalled.

plan's workers die with their parent (SIGTERM or SIGKILL); diff's base plan and its workers die with diff, and
diff's temporary tree is removed on SIGTERM and SIGINT.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from components.exit_codes import ExitCode
from tests.stack_factory import PROJECT, REPO

STACKS = 60
"""Enough stacks for two plan workers (exo_oauth.plan.MIN_STACKS_PER_WORKER is 25)."""
HANG_GUARD = 300.0
"""Seconds after which a wait counts as hung; a passing run needs a few."""

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def descendants(root: int) -> set[int]:
    """Return the process IDs below `root`."""
    found: set[int] = set()
    frontier = {root}
    while frontier:
        pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
        frontier = {pid for pid in pids if _parent(pid) in frontier} - found
        found |= frontier
    return found


def spawn_workers(pids: set[int]) -> set[int]:
    """Return those of `pids` that are multiprocessing spawn workers."""
    workers = set()
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            workers.add(pid)
    return workers


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail after HANG_GUARD seconds (a hang guard, not a timing assert)."""
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def fleet(folder: Path) -> Path:
    """Return a project with the real program and STACKS copies of the contoso stack."""
    folder.mkdir()
    for name in ("__main__.py", "Pulumi.yaml", "pyproject.toml"):
        shutil.copy(REPO / name, folder / name)
    for package in ("components", "exo_oauth"):
        shutil.copytree(REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "stacks").mkdir()
    stack = (PROJECT / "stacks" / "Pulumi.contoso.yaml").read_text(encoding="utf-8")
    for number in range(STACKS):
        (folder / "stacks" / f"Pulumi.t{number:03}.yaml").write_text(stack, encoding="utf-8")
    return folder


def start(argv: list[str], cwd: Path, tmp: Path) -> subprocess.Popen[bytes]:
    """Start `exo-oauth argv` in `cwd`, its code from there and its temporary files in `tmp`."""
    env = os.environ | {"PYTHONPATH": str(cwd), "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "exo_oauth.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_plan_workers_die_with_their_parent(sig: signal.Signals, tmp_path: Path) -> None:
    """`kill -TERM` or `kill -KILL` of `plan --all` leaves no worker (nor resource tracker) running."""
    project = fleet(tmp_path / "project")
    (tmp_path / "tmp").mkdir()
    parent = start(["plan", "--all", "--jobs", "2", "--project-dir", str(project)], project, tmp_path / "tmp")
    workers: set[int] = set()

    def two_workers() -> bool:
        workers.update(spawn_workers(descendants(parent.pid)))
        return len(workers) >= 2 or parent.poll() is not None

    wait_for(two_workers, "plan's two workers")
    assert parent.poll() is None, "plan finished before it could be signalled"
    everything = descendants(parent.pid)
    parent.send_signal(sig)
    parent.wait(HANG_GUARD)
    wait_for(lambda: not any(_alive(pid) for pid in everything), "the workers to die")
    if sig == signal.SIGTERM:
        assert parent.returncode == ExitCode.TERMINATED
        assert parent.stderr is not None
        assert b"Traceback" not in parent.stderr.read()


def _git(project: Path, *argv: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *argv], cwd=project, check=True,
                   capture_output=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_diff_signalled_leaves_no_base_plan_and_no_temporary_tree(sig: signal.Signals, tmp_path: Path) -> None:
    """SIGTERM or SIGINT to diff's PID alone stops the base plan and its workers and removes the temp tree."""
    project = fleet(tmp_path / "project")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "base")
    with (project / "components" / "__init__.py").open("a", encoding="utf-8") as file:
        file.write("# a code change: every stack is planned on both sides\n")
    diff = start(["diff", "--base", "main", "--project-dir", str(project)], project, tmp)
    below: set[int] = set()

    def base_workers() -> bool:
        found = descendants(diff.pid)
        below.update(found)
        return len(spawn_workers(found)) >= 2 or diff.poll() is not None

    wait_for(base_workers, "the base plan's workers")
    assert diff.poll() is None, "diff finished before it could be signalled"
    assert list(tmp.glob("exo-oauth-diff-*"))
    diff.send_signal(sig)
    diff.wait(HANG_GUARD)
    wait_for(lambda: not any(_alive(pid) for pid in below), "the base plan and its workers to die")
    assert list(tmp.glob("exo-oauth-diff-*")) == []
    assert diff.returncode == (ExitCode.TERMINATED if sig == signal.SIGTERM else ExitCode.INTERRUPTED)
