"""Nothing is left running or behind when plan or diff is signalled.

plan's workers die with their parent (SIGTERM or SIGKILL); diff's base plan and its workers die with diff, and
diff's temporary tree is removed on SIGTERM and SIGINT.

Each test signals a command in the state it is about, and that state lasts until the signal: the planned program
never finishes (BLOCKING_PROGRAM), so no load on the machine can let the command end first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
import yaml

from exo_domain.exit_codes import ExitCode
from tests.stack_factory import PROJECT, REPO, app, raw_config

STACKS = 60
"""Enough stacks for two plan workers (exo_oauth.plan.offline.MIN_STACKS_PER_WORKER is 25)."""
APPS_PER_STACK = 40
"""Apps in each stack of the plan test: a chunk of three such stacks is larger than a 64 KiB pipe."""
STARTED = "EXO_OAUTH_TEST_STARTED"
"""The folder where BLOCKING_PROGRAM leaves one file per process that runs it."""
BLOCKING_PROGRAM = f'''"""A Pulumi program that never finishes: workers planning it stay busy until they are killed."""
import os
import pathlib
import threading

if "{STARTED}" in os.environ:
    (pathlib.Path(os.environ["{STARTED}"]) / str(os.getpid())).touch()
threading.Event().wait()
'''
HANG_GUARD = 300.0
"""Seconds after which a wait counts as hung; a passing run needs a few."""
PROBE_SECONDS = 30.0
"""How long to look for a wait channel that a kernel showing them shows at once."""

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


def writing_to_a_full_pipe(pid: int) -> bool:
    """Return True if a thread of `pid` is blocked writing to a full pipe (the kernel's wait channel says so)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "wchan").read_text().endswith("pipe_write"):
                return True
        except OSError:
            continue
    return False


@pytest.fixture(scope="module")
def wait_channels_shown() -> None:
    """Skip unless this kernel shows a thread blocked on a full pipe in its wait channel (writing_to_a_full_pipe)."""
    reader, writer = os.pipe()

    def write_more_than_the_pipe_holds() -> None:
        with suppress(OSError):  # the reader is closed below: the write ends with EPIPE
            os.write(writer, b"x" * (1 << 20))

    blocked = threading.Thread(target=write_more_than_the_pipe_holds, daemon=True)
    blocked.start()
    try:
        seen = False
        deadline = time.monotonic() + PROBE_SECONDS
        while not seen and time.monotonic() < deadline:
            seen = writing_to_a_full_pipe(os.getpid())
            time.sleep(0.05)
    finally:
        os.close(reader)  # the write fails and the thread ends
        blocked.join()
        os.close(writer)
    if not seen:
        pytest.skip("this kernel shows no wait channel for a thread blocked writing to a pipe")


def fleet(folder: Path, stack: str | None = None) -> Path:
    """Return a project with the real program and STACKS copies of `stack` (default: the contoso stack)."""
    folder.mkdir()
    for name in ("__main__.py", "Pulumi.yaml", "pyproject.toml"):
        shutil.copy(REPO / name, folder / name)
    for package in ("exo_domain", "components", "exo_oauth"):
        shutil.copytree(REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "stacks").mkdir()
    stack = stack or (PROJECT / "stacks" / "Pulumi.contoso.yaml").read_text(encoding="utf-8")
    for number in range(STACKS):
        (folder / "stacks" / f"Pulumi.t{number:03}.yaml").write_text(stack, encoding="utf-8")
    return folder


def large_stack() -> str:
    """Return a valid stack file of APPS_PER_STACK apps."""
    apps = [app(name=f"app{number}") for number in range(APPS_PER_STACK)]
    return yaml.safe_dump({"config": raw_config(*apps)})


def start(argv: list[str], cwd: Path, tmp: Path, **env_vars: str) -> subprocess.Popen[bytes]:
    """Start `exo-oauth argv` in `cwd`, its code from there and its temporary files in `tmp`."""
    env = os.environ | {"PYTHONPATH": str(cwd), "TMPDIR": str(tmp)} | env_vars
    return subprocess.Popen([sys.executable, "-m", "exo_oauth.cli", *argv], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
@pytest.mark.usefixtures("wait_channels_shown")
def test_plan_workers_die_with_their_parent_while_its_queue_is_full(sig: signal.Signals, tmp_path: Path) -> None:
    """`kill -TERM` or `kill -KILL` of `plan --all` leaves no worker (nor resource tracker) running.

    Signalled while both workers are busy and the chunks still queued for them fill the pipe, so that plan's queue
    is blocked writing to workers that will never read again: SIGTERM still exits 143, with nothing left behind.
    """
    project = fleet(tmp_path / "project", large_stack())
    (project / "__main__.py").write_text(BLOCKING_PROGRAM, encoding="utf-8")
    tmp, started = tmp_path / "tmp", tmp_path / "started"
    tmp.mkdir()
    started.mkdir()
    parent = start(["plan", "--all", "--jobs", "2", "--project-dir", str(project)], project, tmp,
                   **{STARTED: str(started)})

    def busy_workers_and_full_queue() -> bool:
        busy = len(list(started.iterdir())) >= 2
        return (busy and writing_to_a_full_pipe(parent.pid)) or parent.poll() is not None

    wait_for(busy_workers_and_full_queue, "plan's two workers and its full queue")
    assert parent.poll() is None, "plan ended before it could be signalled"
    everything = descendants(parent.pid)
    parent.send_signal(sig)
    parent.wait(HANG_GUARD)
    wait_for(lambda: not any(_alive(pid) for pid in everything), "the workers to die")
    if sig == signal.SIGTERM:
        assert parent.returncode == ExitCode.TERMINATED
        assert parent.stderr is not None
        assert b"Traceback" not in parent.stderr.read()
        assert list(tmp.iterdir()) == []


def _git(project: Path, *argv: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *argv], cwd=project, check=True,
                   capture_output=True)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_diff_signalled_leaves_no_base_plan_and_no_temporary_tree(sig: signal.Signals, tmp_path: Path) -> None:
    """SIGTERM or SIGINT to diff's PID alone stops the base plan and its workers and removes the temp tree."""
    project = fleet(tmp_path / "project")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The base's program never finishes, so diff is still planning the base when the signal comes.
    (project / "__main__.py").write_text(BLOCKING_PROGRAM, encoding="utf-8")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "base")
    shutil.copy(REPO / "__main__.py", project / "__main__.py")  # a code change: every stack is planned on both sides
    diff = start(["diff", "--base", "main", "--project-dir", str(project)], project, tmp)
    below: set[int] = set()

    def base_workers() -> bool:
        found = descendants(diff.pid)
        below.update(found)
        return len(spawn_workers(found)) >= 2 or diff.poll() is not None

    wait_for(base_workers, "the base plan's workers")
    assert diff.poll() is None, "diff ended before it could be signalled"
    assert list(tmp.glob("exo-oauth-diff-*"))
    diff.send_signal(sig)
    diff.wait(HANG_GUARD)
    wait_for(lambda: not any(_alive(pid) for pid in below), "the base plan and its workers to die")
    assert list(tmp.glob("exo-oauth-diff-*")) == []
    assert diff.returncode == (ExitCode.TERMINATED if sig == signal.SIGTERM else ExitCode.INTERRUPTED)
