"""Benchmark `exo-oauth audit` and `adopt` against the local Graph stand-in for a tenant with N mail apps.

For each N it starts the token server and the Graph stand-in (Graph's real page size, 999), serves N correct app-only
mail apps, and runs each command in this process. The stand-in waits `--latency-ms` before each answer (default 50 ms,
a real Graph seen from a CI runner) and keeps connections alive, as Graph does. It prints each command's round trips
(HTTP requests; a JSON batch is one), the wall time, and the growth of this process's peak memory. Run it from the
repository root:

    PYTHONPATH=. .venv/bin/python bench/audit_fleet.py [--apps 1 100 1000] [--latency-ms 50] [--no-adopt]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from exo_oauth.cli import main
from exo_oauth.tenant.exchange_export import FORMAT
from standins.graph import GraphData, GraphStandin
from standins.graph_tenant import TENANT, fleet
from standins.mailservers import pki
from standins.mailservers.token_server import App, TokenServer

REPO = Path(__file__).resolve().parent.parent
GRAPH_PAGE = 999
SECRET_VAR = "EXO_OAUTH_BENCH_SECRET"


def _export(data: GraphData, path: Path) -> Path:
    sps = {s["appId"]: s["id"] for s in data.servicePrincipals}
    principals = [{"appId": a["appId"], "objectId": sps[a["appId"]], "displayName": a["displayName"]}
                  for a in data.applications]
    permissions = [{"mailbox": f"box{i}@contoso.example", "principalObjectId": p["objectId"], "rights": ["FullAccess"]}
                   for i, p in enumerate(principals)]
    path.write_text(json.dumps({"format": FORMAT, "servicePrincipals": principals, "mailboxPermissions": permissions}),
                    encoding="utf-8")
    return path


def _run(argv: list[str]) -> tuple[int, dict[str, object], float]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    return status, json.loads(out.getvalue()), time.perf_counter() - started


def _cpu_seconds() -> float:
    """Return the CPU seconds of this process and its finished workers: the cost on a machine shared with others."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peak_mb() -> float:
    """Return the largest peak memory of any worker process so far (adopt's plan workers)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench(count: int, folder: Path, tokens: TokenServer, tls: pki.ServerTLS, *, adopt: bool, latency: float) -> None:
    """Serve `count` apps; run audit (and adopt); print round trips, seconds and peak memory growth."""
    data = fleet(datetime.now(UTC), count)
    auditor = tokens.register(App(client_id=str(uuid.uuid4()), tenant_id=TENANT, secret=uuid.uuid4().hex))
    os.environ[SECRET_VAR] = str(auditor.secret)
    graph = GraphStandin(tls, tokens, data, page_size=GRAPH_PAGE, latency=latency)
    signin = ["--tenant", TENANT, "--client-id", auditor.client_id, "--secret-env", SECRET_VAR, "--authority-host",
              tokens.url, "--graph-host", graph.url, "--ca-file", str(tls.ca_file), "--format", "json"]
    try:
        export = _export(data, folder / f"export-{count}.json")
        before, cpu = _peak_mb(), _cpu_seconds()
        status, report, seconds = _run(["audit", *signin, "--exchange-export", str(export)])
        print(f"audit  N={count:>5}: {report['graphCalls']:>5} round trips, {seconds:7.2f} s "
              f"({_cpu_seconds() - cpu:.1f} s CPU), peak memory "
              f"+{_peak_mb() - before:.0f} MB (exit {status})", flush=True)
        if adopt:
            project = folder / f"project-{count}"
            (project / "stacks").mkdir(parents=True)
            for name in ("Pulumi.yaml", "__main__.py"):
                shutil.copy(REPO / name, project / name)
            before, cpu = _peak_mb(), _cpu_seconds()
            status, review, seconds = _run(["adopt", *signin, "--stack", "bench", "--project-dir", str(project),
                                            "--exchange-export", str(export)])
            print(f"adopt  N={count:>5}: {review['graphCalls']:>5} round trips, {seconds:7.2f} s "
                  f"({_cpu_seconds() - cpu:.1f} s CPU), peak memory "
                  f"+{_peak_mb() - before:.0f} MB, largest worker {_worker_peak_mb():.0f} MB (exit {status}, "
                  f"{len(review['imports'])} import entries)", flush=True)  # type: ignore[arg-type]
    finally:
        graph.stop()


def cli() -> None:
    """Parse the flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="milliseconds the stand-in waits before each answer (default 50: Graph from a CI runner)")
    parser.add_argument("--no-adopt", action="store_true", help="only audit")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="exo-oauth-audit-bench-"))
    tls = pki.make_server_tls(folder)
    tokens = TokenServer(tls, pki.rsa_key())
    tokens.start()
    try:
        for count in args.apps:
            bench(count, folder, tokens, tls, adopt=not args.no_adopt, latency=args.latency_ms / 1000)
    finally:
        tokens.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    cli()
