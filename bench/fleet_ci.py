"""Model what GitHub bills the fleet's workflows: runner-minutes per tenant for drift, rotation and pull requests.

A job is its set-up, then each stack's steps. Each step is CPU time (it holds one of the runner's cores) and waiting
time (Graph, Pulumi Cloud, Exchange Online answer; no core). The bench runs every job as a stand-in: threads sleep
for each step, scaled (--scale model seconds per real second), the CPU parts behind a semaphore of --cores, a job's
stacks --concurrency at a time. So what concurrency and cores give is measured, not assumed. GitHub bills each job
its wall time rounded up to a whole minute; the jobs of a matrix run --max-parallel at a time (run length only).

Step costs: `measured` ones are timed here first (exo-oauth processes on a generated fleet); the others are
estimates of GitHub-hosted ubuntu-latest (4 cores) and of Microsoft's and Pulumi's answers, from docs/ci-and-fleet.md
and the issue's measurements of the old workflows. Change them with --cost NAME=SECONDS,... to see what moves.

    .venv/bin/python bench/fleet_ci.py [--tenants 1000] [--cores 4] [--scale 500]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from plan_fleet import REPO, make_fleet


@dataclass(frozen=True)
class Step:
    """One step: seconds on a core, then seconds waiting on a remote answer."""

    name: str
    cpu: float
    wait: float


ESTIMATES = {
    # Set-up, per job (seconds).
    "job-start": (2, 8), "checkout": (1, 2), "setup-python": (1, 4),
    "pip-install-venv": (30, 5), "policy-venv": (15, 5), "pulumi-cli-download": (3, 12),
    "cache-restore-venvs": (4, 8), "cache-restore-pulumi": (4, 8), "cache-restore-module": (1, 3),
    "pulumi-login": (0.5, 2.5), "install-exchange-module": (10, 10), "pfx-and-sign-in-checks": (2, 1),
    "ci-run-tests": (420, 60),
    # Per stack.
    "preview-refresh": (8, 20), "pwsh-module-import": (12, 3), "connect-exchange": (1, 7),
    "exchange-verify-reads": (1, 5), "outputs-read": (1, 2), "verify-login": (0.3, 1.7), "gh-issue": (0.3, 1.5),
    "pulumi-up": (10, 35), "plan-diff-review": (20, 5), "plan-compare-per-1000": (60, 0),
}
"""(cpu, wait) seconds of each step: estimates, unless measure() replaces one."""


def measure(tenants: int) -> dict[str, tuple[float, float]]:
    """Time the exo-oauth processes a job runs, on a generated fleet; return them as (cpu, 0) step costs.

    `exo-oauth-decision` is one drift-report process: it stands in for each per-stack decision (rotation-due too).
    """
    exo = [sys.executable, "-m", "exo_oauth.cli"]
    with tempfile.TemporaryDirectory(prefix="fleet-ci-") as tmp:
        folder = Path(tmp)
        make_fleet(folder, tenants)
        for name in ("Pulumi.yaml", "__main__.py"):
            (folder / name).write_bytes((REPO / name).read_bytes())
        report = folder / "report.json"
        report.write_text('{"stack": "t0000", "exitStatus": 0, "checks": []}', encoding="utf-8")
        issues = folder / "issues.json"
        issues.write_text("[]", encoding="utf-8")
        costs = {}
        decision = [*exo, "drift-report", "--report", str(report), "--issues", str(issues)]
        for name, argv in (("exo-oauth-stacks", [*exo, "stacks", "--all", "--batch-size", "auto"]),
                           ("exo-oauth-decision", decision)):
            start = time.perf_counter()
            subprocess.run(argv, cwd=folder, capture_output=True, check=True, timeout=600)
            costs[name] = (time.perf_counter() - start, 0.0)
    return costs


@dataclass(frozen=True)
class Scenario:
    """One workflow as GitHub runs it: its jobs' set-up and per-stack steps, batching and concurrency."""

    name: str
    setup: tuple[str, ...]
    per_stack: tuple[str, ...]
    stacks_per_job: int
    concurrency: int = 1
    jobs: int | None = None
    """None: as many jobs as the batches need."""
    runners: int = 0
    """PowerShell runners per job (exo_domain.exchange_runner): started first, together they hold one stack slot."""
    runner_render: tuple[str, ...] = ()
    """What comes before the runners, in the same background group: `exo-oauth exchange` reading each stack's
    outputs and writing the scripts."""
    runner_setup: tuple[str, ...] = ()
    """What each runner does once (load ExchangeOnlineManagement)."""
    runner_per_stack: tuple[str, ...] = ()
    """What a runner does per stack of its share, one stack after another."""


def steps(names: Sequence[str], costs: dict[str, tuple[float, float]]) -> list[Step]:
    """Return the named steps with their costs; `N*name` repeats a step N times."""
    out = []
    for entry in names:
        count, _, name = entry.rpartition("*")
        out += [Step(name, *costs[name])] * int(count or 1)
    return out


def run_job(setup: list[Step], stacks: list[list[Step]], concurrency: int, cores: int, scale: float, *,
            render: Sequence[Step] = (), runners: Sequence[list[Step]] = ()) -> float:
    """Run one job's stand-in (sleeps, CPU parts behind `cores`) and return its modelled wall time in seconds.

    `render`, then `runners` (each its whole sequence) at once, run in one background group that starts after the
    set-up, before the stacks, and holds one slot until the last runner ends, as drift.yml runs them.
    """
    core = threading.Semaphore(cores)
    slots = threading.Semaphore(concurrency)

    def play(sequence: list[Step]) -> None:
        for step in sequence:
            with core:
                time.sleep(step.cpu / scale)
            time.sleep(step.wait / scale)

    def one_stack(sequence: list[Step]) -> None:
        with slots:
            play(sequence)

    def all_runners() -> None:
        play(list(render))
        lanes = [threading.Thread(target=play, args=(r,)) for r in runners]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
        slots.release()

    start = time.perf_counter()
    play(setup)
    threads = [threading.Thread(target=one_stack, args=(s,)) for s in stacks]
    if runners:
        slots.acquire()
        threads.append(threading.Thread(target=all_runners))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - start) * scale


def billed(scenario: Scenario, tenants: int, costs: dict[str, tuple[float, float]], cores: int,
           scale: float) -> tuple[int, float, int]:
    """Return (billed runner-minutes of the run, the longest job's minutes, jobs) for `tenants` stacks."""
    jobs = scenario.jobs or math.ceil(tenants / scenario.stacks_per_job)
    size, extra = divmod(tenants, jobs) if scenario.jobs is None else (scenario.stacks_per_job, 0)
    total, longest = 0, 0.0
    for batch, count in ((size + 1, extra), (size, jobs - extra)):
        if count == 0:
            continue
        shares = [len(range(i, batch, scenario.runners)) for i in range(min(scenario.runners, batch))]
        runners = [steps(scenario.runner_setup, costs) + steps(scenario.runner_per_stack, costs) * share
                   for share in shares]
        minutes = run_job(steps(scenario.setup, costs), [steps(scenario.per_stack, costs)] * batch,
                          scenario.concurrency, cores, scale, render=steps(scenario.runner_render, costs),
                          runners=runners) / 60
        total += math.ceil(minutes) * count
        longest = max(longest, minutes)
    return total, longest, jobs


SETUP_BEFORE = ("job-start", "checkout", "setup-python", "pip-install-venv", "pulumi-cli-download",
                "cache-restore-pulumi", "policy-venv", "pulumi-login")
SETUP_AFTER = ("job-start", "checkout", "setup-python", "cache-restore-venvs", "cache-restore-pulumi", "pulumi-login")
EXCHANGE_BEFORE = ("install-exchange-module", "pfx-and-sign-in-checks")
EXCHANGE_AFTER = ("cache-restore-module", "pfx-and-sign-in-checks")
EXCHANGE_CHECK = ("pwsh-module-import", "connect-exchange", "exchange-verify-reads")
APP_ONLY_APPS = 2
"""App-only apps per stack (the example stacks have two): each is one login check in drift."""


def scenarios(tenants: int, concurrency: int, max_jobs: int) -> list[tuple[str, Scenario, Scenario]]:
    """Return (what, before, after) for each workflow the bench models."""
    auto = math.ceil(tenants / 256)
    after_batch = math.ceil(tenants / min(max_jobs, tenants))
    drift_before = (*("preview-refresh", "outputs-read"), *EXCHANGE_CHECK, f"{APP_ONLY_APPS}*outputs-read",
                    f"{APP_ONLY_APPS}*verify-login", "exo-oauth-decision", "gh-issue")
    drift_after = (*("preview-refresh", "outputs-read"), *EXCHANGE_CHECK, f"{APP_ONLY_APPS}*verify-login",
                   "exo-oauth-decision", "gh-issue")
    # With runners the exchange check leaves each stack's drift: one more short exo-oauth process reads its result.
    without_exchange = tuple(s for s in drift_after if s not in EXCHANGE_CHECK)
    rotation = ("preview-refresh", "exo-oauth-decision")
    return [
        ("drift, per tenant",
         Scenario("drift before", (*SETUP_BEFORE, *EXCHANGE_BEFORE), drift_before, auto),
         Scenario("drift after", (*SETUP_AFTER, *EXCHANGE_AFTER), drift_after, after_batch, concurrency)),
        ("drift, the Exchange checks in 2 PowerShell runners per job (decision 0191), per tenant",
         Scenario("drift after", (*SETUP_AFTER, *EXCHANGE_AFTER), drift_after, after_batch, concurrency),
         Scenario("drift runners", (*SETUP_AFTER, *EXCHANGE_AFTER),
                  (*without_exchange, "exo-oauth-decision"), after_batch, concurrency, runners=2,
                  runner_render=(f"{after_batch}*outputs-read", "exo-oauth-decision"),
                  runner_setup=("pwsh-module-import",), runner_per_stack=EXCHANGE_CHECK[1:])),
        ("rotation, per tenant",
         Scenario("rotation before", SETUP_BEFORE, rotation, auto),
         Scenario("rotation after", SETUP_AFTER, rotation, auto)),
    ]


def pull_request(costs: dict[str, tuple[float, float]], cores: int, scale: float, tenants: int,
                 concurrency: int) -> list[tuple[str, int, int]]:
    """Return (what, minutes before, minutes after) for a pull request touching one stack, and a code change."""
    review_before = Scenario("review", SETUP_BEFORE[:4], ("plan-diff-review",), 1)
    review_after = Scenario("review", SETUP_AFTER[:4], ("plan-diff-review", "exo-oauth-stacks"), 1)
    comment = Scenario("comment", ("job-start", "checkout"), (), 1)
    select_before = Scenario("stacks", SETUP_BEFORE[:4], ("exo-oauth-stacks",), 1)
    select_after = Scenario("stacks", SETUP_AFTER[:4], ("exo-oauth-stacks",), 1)
    compare = Scenario("stacks", SETUP_AFTER[:4], ("exo-oauth-stacks", f"{max(1, tenants // 1000)}*"
                                                   "plan-compare-per-1000"), 1)
    preview_before = Scenario("preview", SETUP_BEFORE, ("preview-refresh",), 1)
    preview_after = Scenario("preview", SETUP_AFTER, ("preview-refresh",), 1)
    tests = Scenario("test", ("job-start", "checkout", "setup-python"), ("ci-run-tests",), 1)

    def minutes(*jobs: tuple[Scenario, int]) -> int:
        return sum(billed(job, stacks, costs, cores, scale)[0] for job, stacks in jobs)

    fleet_preview_before = replace(preview_before, stacks_per_job=math.ceil(tenants / 256))
    return [
        ("pull request touching one stack",
         minutes((tests, 1), (review_before, 1), (select_before, 1), (preview_before, 1)),
         minutes((tests, 1), (review_after, 1), (comment, 1), (select_after, 1), (preview_after, 1))),
        ("pull request changing code that moves no plan",
         minutes((tests, 1), (review_before, 1), (select_before, 1), (fleet_preview_before, tenants)),
         minutes((tests, 1), (review_after, 1), (comment, 1), (compare, 1))),
    ]


def main() -> None:
    """Measure the local steps, run every scenario's jobs as stand-ins, print minutes before and after."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=4, help="runner cores (ubuntu-latest: 4 public, 2 private)")
    parser.add_argument("--concurrency", type=int, default=4, help="stacks at once in a drift job (DRIFT_CONCURRENCY)")
    parser.add_argument("--max-jobs", type=int, default=64, help="drift jobs per run (DRIFT_MAX_JOBS)")
    parser.add_argument("--max-parallel", type=int, default=10, help="jobs at once (DRIFT_MAX_PARALLEL)")
    parser.add_argument("--scale", type=float, default=500.0, help="model seconds per real second")
    parser.add_argument("--cost", default="", help="override step costs: NAME=CPU/WAIT,... in seconds")
    parser.add_argument("--no-measure", action="store_true", help="use estimates for the exo-oauth steps too")
    args = parser.parse_args()
    costs: dict[str, tuple[float, float]] = {name: (float(c), float(w)) for name, (c, w) in ESTIMATES.items()}
    costs |= {"exo-oauth-stacks": (1.0, 0.0), "exo-oauth-decision": (0.5, 0.0)}
    if not args.no_measure:
        costs |= measure(args.tenants)
    for item in filter(None, args.cost.split(",")):
        name, _, value = item.partition("=")
        cpu, _, wait = value.partition("/")
        costs[name.strip()] = (float(cpu), float(wait or 0))
    measured = "estimated" if args.no_measure else "measured here"
    print(f"fleet of {args.tenants} tenants, {args.cores}-core runners, scale {args.scale:g}x; {measured}: exo-oauth "
          f"stacks --all {costs['exo-oauth-stacks'][0]:.2f} s, drift-report {costs['exo-oauth-decision'][0]:.2f} s")
    for what, before, after in scenarios(args.tenants, args.concurrency, args.max_jobs):
        results = []
        for scenario in (before, after):
            total, longest, jobs = billed(scenario, args.tenants, costs, args.cores, args.scale)
            waves = math.ceil(jobs / args.max_parallel)
            results.append(total / args.tenants)
            print(f"  {scenario.name:16} {jobs:4} jobs of {math.ceil(args.tenants / jobs):3} stacks, "
                  f"{scenario.concurrency} at once: {longest:5.1f} min per job, billed {total:6} min, "
                  f"{total / args.tenants:.2f} min per tenant, run ~{waves * math.ceil(longest)} min")
        print(f"{what}: {results[0]:.2f} -> {results[1]:.2f} runner-minutes ({results[0] / results[1]:.1f}x less)")
    for what, before_minutes, after_minutes in pull_request(costs, args.cores, args.scale, args.tenants,
                                                            args.concurrency):
        print(f"{what}: {before_minutes} -> {after_minutes} runner-minutes per push")


if __name__ == "__main__":
    main()
