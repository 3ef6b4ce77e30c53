"""`exo-oauth diff`: what changes in effective access between a git ref and the working tree, per tenant."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError

FORMATS = ("markdown", "json", "text")
CODE_PATHS = ("__main__.py", "Pulumi.yaml", "pyproject.toml", "components/", "exo_oauth/")
"""Paths whose change can change any stack's plan: then every stack is planned on both sides."""
STACK_PREFIX = "stacks/Pulumi."
GIT_TIMEOUT_SECONDS = 120


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `diff` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="show who gains or loses access between a git ref and the working tree, per tenant",
        description="Plan, offline, the stacks whose files or code changed since REF, at REF and in the working "
        "tree, and list apps, permissions, mailbox rights and credentials that change. Exit 0, or 2 on bad input.",
    )
    parser.add_argument("--base", default="origin/main", metavar="REF", help="git ref to compare with (default: "
                        "origin/main)")
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    parser.add_argument("--project-dir", type=Path, help="the project folder (default: nearest Pulumi.yaml above here)")
    parser.set_defaults(run=run)


def _git(project_dir: Path, *argv: str) -> str:
    try:
        done = subprocess.run(["git", *argv], cwd=project_dir, capture_output=True, text=True, check=False,
                              timeout=GIT_TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise UsageError("git is not on PATH; allowed: run exo-oauth diff where git is installed") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UsageError(f"git {' '.join(argv[:2])} failed: {last}")
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
    named = {p[len(STACK_PREFIX):-len(".yaml")] for p in paths if p.startswith(STACK_PREFIX) and p.endswith(".yaml")}
    return sorted(named & (base_stacks | head_stacks))


def _stacks_in(project_dir: Path) -> set[str]:
    return {p.name[len("Pulumi."):-len(".yaml")] for p in (project_dir / "stacks").glob("Pulumi.*.yaml")}


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
    done = subprocess.run(argv, cwd=base_dir, capture_output=True, text=True, env=env, check=False)
    if done.returncode not in (0, 3):
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UsageError(f"planning the base failed: {last}")
    return {s["stack"]: s["outputs"].get("apps", {}) for s in json.loads(done.stdout)["stacks"]}


def run(args: argparse.Namespace) -> int:
    """Plan the changed stacks on both sides and print the access diff."""
    from ..access_diff import render_json, render_markdown, render_text, stack_entry  # noqa: PLC0415
    from ..plan import plan_stacks  # noqa: PLC0415 - imports Pulumi; --help must not
    from ..project import find_project_dir, load_stack  # noqa: PLC0415

    project_dir = args.project_dir.resolve() if args.project_dir else find_project_dir()
    paths = changed_paths(project_dir, args.base)
    with tempfile.TemporaryDirectory(prefix="exo-oauth-diff-") as tmp:
        base_dir = _base_tree(project_dir, args.base, Path(tmp))
        base_stacks, head_stacks = _stacks_in(base_dir), _stacks_in(project_dir)
        names = stacks_to_plan(paths, base_stacks, head_stacks)
        base = _plan_base(base_dir, [n for n in names if n in base_stacks])
    head_loaded = [load_stack(project_dir, n) for n in names if n in head_stacks]
    head = {p.stack: p.outputs.get("apps", {}) for p in plan_stacks(project_dir, head_loaded, datetime.now(UTC))}
    entries = [stack_entry(n, base.get(n) if n in base_stacks else None, head.get(n) if n in head_stacks else None)
               for n in names]
    render = {"markdown": render_markdown, "json": render_json, "text": render_text}[args.format]
    sys.stdout.write(render(args.base, entries))
    return 0
