"""Benchmark `exo-oauth diff` when one stack changed: on the example stacks and on a generated 1,000-tenant fleet.

Each case is a scratch git repository holding this project's code and the stacks, committed once; then one stack
gains a mailbox in the working tree and `exo-oauth diff --base HEAD` runs as a new process. It prints the wall time
and how many stacks the diff planned (only the changed one, so the time should not grow with the fleet).

    .venv/bin/python bench/diff_fleet.py [--tenants 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from plan_fleet import REPO, make_fleet

PROJECT = REPO / "tests" / "fixtures" / "project"
"""The tests' own project, whose stacks the bench copies (never the fleet's stacks/)."""

CODE = ("exo_domain", "components", "exo_oauth")


def scratch_repo(folder: Path, tenants: int) -> str:
    """Fill `folder` with code and stacks (the tests' fixtures if `tenants` is 0), commit; return a stack name."""
    if tenants:
        names = make_fleet(folder, tenants)
    else:
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(REPO / name, folder / name)
        shutil.copytree(PROJECT / "stacks", folder / "stacks")
        names = ["contoso"]
    for package in CODE:
        shutil.copytree(REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=folder, check=True)
    subprocess.run([*git, "add", "."], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fleet"], cwd=folder, check=True)
    return names[len(names) // 2]


def add_mailbox(folder: Path, stack: str) -> None:
    """Give the first app-only app of `stack` one more mailbox, in the working tree."""
    path = folder / "stacks" / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    app = next(a for a in document["config"]["exo-oauth:apps"] if a["flow"] == "app-only")
    app["mailboxes"].append("new-mailbox@contoso.com")
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def main() -> None:
    """Time the diff on the examples and on the generated fleet."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'stacks in repo':>15} {'planned':>8} {'diff wall':>10}")
    for tenants in (0, args.tenants):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            stack = scratch_repo(folder, tenants)
            add_mailbox(folder, stack)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "exo_oauth.cli", "diff", "--base", "HEAD", "--format", "json"],
                                  cwd=folder, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                sys.exit(f"exo-oauth diff failed: {done.stderr.strip()[-500:]}")
            planned = len(json.loads(done.stdout)["stacks"])
            total = tenants or len(list((folder / "stacks").glob("Pulumi.*.yaml")))
            print(f"{total:>15} {planned:>8} {elapsed:>9.2f}s")


if __name__ == "__main__":
    main()
