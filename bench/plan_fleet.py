"""Benchmark the offline plan of a generated fleet, at equal cores: `exo-oauth plan --all` against a process per stack.

For each fleet size (default 1, 100 and 1,000 tenants with 3 apps each) it compares, in `--repeat` interleaved rounds:

- one core: `plan --all --jobs 1` against `plan --stack NAME` processes run one after another;
- N cores (N = this machine's cores): `plan --all --jobs N` against the same processes run N at a time
  (`xargs -P N`, as a shell script would).

The processes are timed on up to `--sample` stacks per round, and each result is ms per tenant. It prints min, median
and max over the rounds, and the ratio of the medians. Targets (CONTRIBUTING.md "Benchmarks"): 1,000 tenants in under
60 s, and at least 10x faster than a process per stack at equal cores. On a shared, loaded machine the absolute times
move from round to round; the ratios, measured in the same rounds, move less.

    .venv/bin/python bench/plan_fleet.py [--sizes 1 100 1000] [--sample 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
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


def timed(argv: list[str], cwd: Path, stdin: str | None = None) -> float:
    """Run a command to completion; return its wall time in seconds (fail loudly if it fails)."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def one_round(folder: Path, names: list[str], sample: list[str], cores: int) -> dict[str, float]:
    """Time each way once; return ms per tenant by way."""
    per_stack = [*CLI, "plan", "--format", "json", "--stack"]
    whole = [*CLI, "plan", "--all", "--format", "json", "--jobs"]
    return {
        "all, 1 job": timed([*whole, "1"], folder) / len(names) * 1000,
        "processes, 1 at a time": sum(timed([*per_stack, name], folder) for name in sample) / len(sample) * 1000,
        f"all, {cores} jobs": timed([*whole, str(cores)], folder) / len(names) * 1000,
        f"processes, xargs -P {cores}": timed(["xargs", "-P", str(cores), "-n", "1", *per_stack], folder,
                                              stdin="\n".join(sample)) / len(sample) * 1000,
    }


def spread(values: list[float]) -> str:
    """Return `median (min-max)` of ms values."""
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    """Run the benchmark and print, per fleet size, each way's ms per tenant and the ratios at equal cores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--sample", type=int, default=20, help="stacks planned as separate processes per round")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds per size")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"ms per tenant, median (min-max) of {args.repeat} interleaved rounds; {cores} cores")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            names = make_fleet(folder, size)
            sample = names[: max(1, min(args.sample, size))]
            rounds = [one_round(folder, names, sample, cores) for _ in range(args.repeat)]
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ways = {way: [r[way] for r in rounds] for way in rounds[0]}
        for way, values in ways.items():
            print(f"{size:>6} tenants  {way:<28} {spread(values)}")
        for way, base in (("all, 1 job", "processes, 1 at a time"),
                          (f"all, {cores} jobs", f"processes, xargs -P {cores}")):
            ratio = statistics.median(ways[base]) / statistics.median(ways[way])
            per_round = [b / v for v, b in zip(ways[way], ways[base], strict=True)]
            print(f"{size:>6} tenants  {way} against {base}: {ratio:.1f}x "
                  f"(per round {min(per_round):.1f}x-{max(per_round):.1f}x)")
        print(f"{size:>6} tenants  peak RSS of a child process so far: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
