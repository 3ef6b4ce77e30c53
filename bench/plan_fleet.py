"""Benchmark the offline plan of a generated fleet: one `exo-oauth plan --all` against a process per stack.

For each fleet size (default 1, 100 and 1,000 tenants with 3 apps each) it times one `exo-oauth plan --all` command,
then times separate `exo-oauth plan --stack NAME` processes for up to `--sample` of those stacks, and prints ms per
tenant for both and their ratio. Targets (CONTRIBUTING.md "Benchmarks"): 1,000 tenants in under 60 s, and at least 10x
faster than a process per stack.

    .venv/bin/python bench/plan_fleet.py [--sizes 1 100 1000] [--sample 100]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "exo_oauth.cli"]


def tenant_config(index: int) -> dict[str, object]:
    """Return one generated tenant: two app-only apps and one delegated app, like the example stacks."""
    domain = f"tenant{index}.example"
    owner = str(uuid.UUID(int=index + 1))
    apps = [
        {"name": "scanners", "flow": "app-only", "protocols": ["smtp"], "owners": [owner],
         "mailboxes": [f"scanner@{domain}", {"address": f"frontdesk@{domain}", "sendAs": True}]},
        {"name": "helpdesk", "flow": "app-only", "protocols": ["imap", "pop"], "owners": [owner],
         "mailboxes": [f"support@{domain}"], "credential": {"type": "secret", "lifetimeDays": 90}},
        {"name": "mail-clients", "flow": "delegated", "protocols": ["imap", "smtp"], "owners": [owner],
         "publicClient": True, "credential": {"type": "none"}},
    ]
    return {"config": {"azuread:tenantId": str(uuid.UUID(int=10**6 + index)), "exo-oauth:apps": apps}}


def make_fleet(folder: Path, tenants: int) -> list[str]:
    """Write a project with `tenants` stack files into `folder`; return the stack names."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, folder / name)
    (folder / "stacks").mkdir()
    names = [f"t{i:05d}" for i in range(tenants)]
    for i, name in enumerate(names):
        (folder / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(tenant_config(i)), encoding="utf-8")
    return names


def timed(argv: list[str], cwd: Path) -> float:
    """Run a command to completion; return its wall time in seconds (fail loudly if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    """Run the benchmark and print one row per fleet size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--sample", type=int, default=100, help="separate processes timed per size (at most)")
    args = parser.parse_args()
    print(f"{'tenants':>8} {'one command':>12} {'ms/tenant':>10} {'per-stack ms/tenant':>20} {'sampled':>8} "
          f"{'ratio':>7} {'peak RSS MB':>12}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            names = make_fleet(folder, size)
            whole = timed([*CLI, "plan", "--all", "--format", "json"], folder)
            rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            sample = names[: max(1, min(args.sample, size))]
            separate = sum(timed([*CLI, "plan", "--stack", name, "--format", "json"], folder) for name in sample)
        per_tenant = whole / size * 1000
        per_stack = separate / len(sample) * 1000
        print(f"{size:>8} {whole:>11.1f}s {per_tenant:>10.1f} {per_stack:>20.1f} {len(sample):>8} "
              f"{per_stack / per_tenant:>6.1f}x {rss_mb:>12.0f}")


if __name__ == "__main__":
    main()
