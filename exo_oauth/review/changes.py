"""Which stacks changed since a git ref, and their effective access there and in the working tree."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exo_domain.config import STACKS_DIR
from exo_domain.exit_codes import ExitCode

from ..fleet.project import load_stack, stack_names, stack_of
from ..plan_digest import FORMAT
from ..util.errors import UsageError, last_line
from ..util.files import load_json
from ..util.lifetime import die_with_parent
from ..util.progress import Progress
from ..util.text import printable
from .access_diff import stack_entry

CODE_PATHS = ("__main__.py", "Pulumi.yaml", "pyproject.toml", "components/", "exo_domain/", "exo_oauth/", "policy/")
"""The program: paths whose change can change any stack's plan or verdict, so every stack is planned, previewed
and deployed again. The only such list: `diff`, `stacks --changed-since` and the workflows (through `stacks`) use it."""
GIT_TIMEOUT_SECONDS = 120
BASE_PLAN_TIMEOUT_SECONDS = 1800
"""Planning the base tree may take this long: hundreds of stacks on the base's own code, on a small CI runner."""
GIT_REF = re.compile(r"[A-Za-z0-9._/~^@{}-]{1,200}")
"""What a ref (--base, --changed-since) may be: the characters of branch, tag and commit names and rev suffixes (~1,
^, @{u}). No backtick, space or markup, so the ref is safe in the markdown heading and in the PR comment."""
_BASE_PLAN = "planning the base"


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
    """Raise UsageError naming `ref` and what to do when it is not a ref name (GIT_REF) or not a commit here."""
    if not GIT_REF.fullmatch(ref):
        raise UsageError(f"{flag}: {printable(ref)[:200]} is not a git ref name exo-oauth accepts; allowed: letters, "
                         "digits and . _ / - ~ ^ @ { } (a branch, tag, commit or origin/main)")
    try:
        _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(f"{flag} {ref!r}: no such commit in this clone; allowed: a branch, tag or commit that "
                         f"exists here (run `git fetch origin`, or clone with full history: fetch-depth 0), or "
                         f"another {flag}") from None


def program_changed(paths: Sequence[str]) -> bool:
    """Return True if any path is part of the program (CODE_PATHS): then every stack is affected."""
    return any(p == c or (c.endswith("/") and p.startswith(c)) for p in paths for c in CODE_PATHS)


def changed_paths(project_dir: Path, base: str) -> list[str]:
    """Return project-relative paths differing between `base` (checked) and the working tree, untracked included."""
    tracked = _git(project_dir, "diff", "--name-only", "--relative", base, "--").splitlines()
    untracked = _git(project_dir, "ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(set(tracked) | set(untracked))


def stacks_to_plan(paths: Sequence[str], base_stacks: set[str], head_stacks: set[str]) -> list[str]:
    """Return the stacks whose plan can differ: all when program code changed, else those whose file changed."""
    if program_changed(paths):
        return sorted(base_stacks | head_stacks)
    named = {name for p in paths if (name := stack_of(p)) is not None}
    return sorted(named & (base_stacks | head_stacks))


def _base_files(project_dir: Path, base: str) -> tuple[list[str], list[str]]:
    """Return the project's program paths (CODE_PATHS) and stack folder files at `base`, read from git's tree."""
    top = _git(project_dir, "ls-tree", "--name-only", base, "--", ".").splitlines()
    program = [path for path in top if path in CODE_PATHS or f"{path}/" in CODE_PATHS]
    stack_files = _git(project_dir, "ls-tree", "--name-only", base, "--", f"{STACKS_DIR}/").splitlines()
    return program, stack_files


def _base_tree(project_dir: Path, base: str, into: Path, paths: Sequence[str] = (".",)) -> Path:
    """Extract `paths` (default: all) of the project folder as it is at `base` into `into`; return the folder there.

    The diff of a few stacks asks only for the program and those stacks: unpacking every stack file of a large fleet
    would make it slower as the fleet grows. Run in a subfolder of the repository, git archives that folder, with paths
    relative to it.
    """
    archive = into / "base.tar"
    _git(project_dir, "archive", "--format=tar", f"--output={archive}", base, "--", *paths)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into / "tree", filter="data")
    except tarfile.TarError as error:
        # The data filter refuses links that leave the tree (an absolute symlink): one line, not a traceback.
        raise UsageError(f"{base}: cannot extract its tree ({error}); allowed: a commit without links that leave "
                         "the repository") from None
    return into / "tree"


def _run_in_tree(tree: Path, argv: Sequence[str], what: str = _BASE_PLAN) -> str:
    """Run `python argv...` with `tree`'s code first on the import path; return its stdout.

    ExitCode.OK and ExitCode.POLICY (a policy verdict) count as success; anything else, or no answer within
    BASE_PLAN_TIMEOUT_SECONDS, is a UsageError starting with `what` and naming the last line of its stderr.
    """
    env = os.environ | {"PYTHONPATH": str(tree)}
    # Its own session, so its workers can be killed with it as a group; and it dies if this process is killed.
    process = subprocess.Popen([sys.executable, *argv], cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509
    try:
        stdout, stderr = process.communicate(timeout=BASE_PLAN_TIMEOUT_SECONDS)
    except BaseException as error:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if isinstance(error, subprocess.TimeoutExpired):
            raise UsageError(f"{what}: no answer within {BASE_PLAN_TIMEOUT_SECONDS} s; allowed: a base that "
                             "plans in that time, or fewer changed stacks") from None
        raise
    if process.returncode not in (ExitCode.OK, ExitCode.POLICY):
        raise UsageError(f"{what} failed: {last_line(stderr)}")
    return stdout


def _plan_base(base_dir: Path, stacks: Sequence[str]) -> dict[str, Any]:
    """Plan stacks with the base's own code, in a separate interpreter whose imports resolve to the base tree."""
    if not stacks:
        return {}
    argv = ["-m", "exo_oauth.cli", "plan", "--format", "json", "--project-dir", str(base_dir)]
    for name in stacks:
        argv += ["--stack", name]
    return _base_apps(_run_in_tree(base_dir, argv))


def _base_apps(stdout: str) -> dict[str, Any]:
    """Return each stack's `apps` output from the base's `plan --format json`, which another commit's code wrote."""
    allowed = "the JSON of `exo-oauth plan --format json`: {\"stacks\": [{\"stack\": NAME, \"outputs\": {...}}]}"
    document = load_json(stdout, _BASE_PLAN, allowed)
    stacks = document.get("stacks") if isinstance(document, dict) else None
    if not isinstance(stacks, list) or not all(
            isinstance(s, dict) and isinstance(s.get("stack"), str) and isinstance(s.get("outputs"), dict)
            and isinstance(s["outputs"].get("apps", {}), dict) for s in stacks):
        raise UsageError(f"{_BASE_PLAN}: unexpected output; allowed: {allowed}")
    return {s["stack"]: s["outputs"].get("apps", {}) for s in stacks}


def access_changes(project_dir: Path, base: str) -> list[dict[str, Any]]:
    """Plan the stacks that changed since `base` on both sides; return each one's access diff (stack_entry)."""
    from ..plan.offline import plan_stacks  # noqa: PLC0415 - imports Pulumi; `stacks --changed-since` must not wait for it

    check_ref(project_dir, base, "--base")
    paths = changed_paths(project_dir, base)
    program, stack_files = _base_files(project_dir, base)
    base_stacks = {name for path in stack_files if (name := stack_of(path)) is not None}
    head_stacks = set(stack_names(project_dir))
    names = stacks_to_plan(paths, base_stacks, head_stacks)
    planned = [n for n in names if n in base_stacks]
    # A stack's own files (its Pulumi.<stack>.yaml, and adopt's Pulumi.<stack>.import.json) start with its name.
    wanted = [path for path in stack_files if any(path.startswith(f"{STACKS_DIR}/Pulumi.{n}.") for n in planned)]
    with tempfile.TemporaryDirectory(prefix="exo-oauth-diff-") as tmp:
        base_dir = _base_tree(project_dir, base, Path(tmp), [*program, *wanted])
        before = _plan_base(base_dir, planned)
    loaded = [load_stack(project_dir, n) for n in names if n in head_stacks]
    progress = Progress("diff: planning the working tree", len(loaded))
    try:
        plans = plan_stacks(project_dir, loaded, datetime.now(UTC), on_done=progress.advance)
    finally:
        progress.close()
    after = {p.stack: p.outputs.get("apps", {}) for p in plans}
    return [stack_entry(n, before.get(n) if n in base_stacks else None, after.get(n) if n in head_stacks else None)
            for n in names]


def _digests(tree: Path, stacks: Sequence[str], now: datetime, what: str) -> dict[str, Any]:
    """Digest stacks with `tree`'s own code (exo_oauth.plan_digest); UsageError if its answer is not comparable."""
    if not stacks:
        return {}
    stdout = _run_in_tree(tree, ["-m", "exo_oauth.plan_digest", str(tree), now.isoformat(), *stacks], what)
    allowed = f"the JSON of exo_oauth.plan_digest, format {FORMAT}"
    document = load_json(stdout, what, allowed)
    digests = document.get("stacks") if isinstance(document, dict) else None
    if document.get("format") != FORMAT or not isinstance(digests, dict) or set(digests) != set(stacks):
        raise UsageError(f"{what}: unexpected output; allowed: {allowed}, one entry per stack")
    return digests


def plans_changed(project_dir: Path, base: str, stacks: Sequence[str]) -> dict[str, list[str]]:
    """Plan `stacks` offline at `base` and in the working tree, each with its own code; return those that differ.

    Each differing stack maps to the parts that differ, in the order the digest lists them (`new` for a stack that
    is not in the base). Both sides are planned at the same instant. Raises UsageError when either side cannot be
    planned or digested: then no stack can be left out.
    """
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="exo-oauth-stacks-") as tmp:
        base_dir = _base_tree(project_dir, base, Path(tmp))
        in_base = set(stack_names(base_dir))
        before = _digests(base_dir, [s for s in stacks if s in in_base], now, _BASE_PLAN)
    after = _digests(project_dir, stacks, now, "planning the working tree")
    changed = {}
    for name in stacks:
        if name not in before:
            changed[name] = ["new"]
        elif parts := [p for p in after[name] if before[name].get(p) != after[name][p]]:
            changed[name] = parts
    return changed


@dataclass(frozen=True)
class Changed:
    """The stacks to run again since a ref, and why."""

    stacks: list[str]
    """The chosen stacks, in the order given."""
    files: list[str]
    """Those whose stack file changed."""
    plans: dict[str, list[str]] = field(default_factory=dict)
    """After a program change: the other stacks whose plan differs, each with the parts that differ."""
    left_alone: int = 0
    """After a program change: how many stacks' plans stayed the same."""
    incomparable: str | None = None
    """After a program change: why the plans could not be compared (then every stack is chosen)."""
    program: bool = False
    """Whether the program (CODE_PATHS) changed."""


def stacks_changed_since(project_dir: Path, ref: str, stacks: Sequence[str]) -> Changed:
    """Return the stacks (of `stacks`, in order) to run again since `ref`.

    A stack whose file changed is chosen. When the program changed (CODE_PATHS), the other stacks are planned
    offline at the fork point and here, and only those whose plan differs are chosen; every stack only when the
    plans cannot be compared. Compares with the merge base, so a pull request is not charged with what its base
    branch did since it forked.
    """
    check_ref(project_dir, ref, "--changed-since")
    fork_point = _git(project_dir, "merge-base", ref, "HEAD").strip()
    paths = changed_paths(project_dir, fork_point)
    files = {stack_of(p) for p in paths}
    named = [s for s in stacks if s in files]
    if not program_changed(paths):
        return Changed(named, named)
    others = [s for s in stacks if s not in files]
    try:
        moved = plans_changed(project_dir, fork_point, others)
    except UsageError as error:
        return Changed(list(stacks), named, incomparable=str(error), program=True)
    return Changed([s for s in stacks if s in files or s in moved], named, moved, len(others) - len(moved),
                   program=True)
