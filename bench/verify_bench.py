"""Benchmark `exo-oauth verify` against the local stand-ins (token endpoint, Dovecot, SMTP sink); not a test.

1. Wall time of one `exo-oauth verify` run for IMAP, POP and SMTP (in process; the token request overlaps the
   connections) against the sum of the same three checks run one after another with a ready token. Target: at most
   0.5x the sum. Twice: warm (the token from the cache, as a second run sees it) and cold (no token cache, as a fresh
   CI runner sees it), where the sum also holds one token request. Medians of `--rounds` interleaved rounds, with
   min and max, measured on bare loopback, where the checks are CPU-bound on this machine, and through a TCP proxy
   that delays every chunk by `--latency-ms` each way (login host included), which is what talking to Exchange
   Online over the internet looks like. After each ratio, the CPU one verify run
   used (this process, and Dovecot with all its processes) and the least wall time that allows on this machine's cores:
   on loopback the servers' CPU is on the same cores as verify, which no deployment has (Exchange is remote).
2. Token requests counted at the token endpoint: a first run sends exactly 1 per credential (a secret app and a
   certificate app), a second run within the token lifetime sends 0.

Warm runs pass `--token-cache plain` (in the bench's own temporary XDG_CACHE_HOME): the default encrypted cache needs
an OS keyring, and without one verify runs with no cache, which is what the cold runs measure (`--token-cache off`).

    .venv/bin/python bench/verify_bench.py [--rounds 20] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from exo_oauth.cli import build_parser, main  # noqa: E402 - needs the repository on sys.path first
from exo_oauth.commands.verify import request_from  # noqa: E402
from exo_oauth.signin.secret import Secret  # noqa: E402
from exo_oauth.verify.checks import CHECKS, Login, tls_context  # noqa: E402
from exo_oauth.verify.clouds import Endpoint  # noqa: E402
from exo_oauth.verify.inputs import resolve_target  # noqa: E402
from exo_oauth.verify.tokens import acquire_token  # noqa: E402
from standins.mailservers import pki  # noqa: E402
from standins.mailservers.harness import MailServers, running_mail_servers  # noqa: E402
from standins.mailservers.token_server import App  # noqa: E402

TARGET_RATIO = 0.5
SECRET_ENV = "EXO_OAUTH_BENCH_SECRET"
CACHE = ["--token-cache", "plain"]
"""The 0600-file cache, so a second run is answered from it on machines without an OS keyring too."""
NO_CACHE = ["--token-cache", "off"]
"""A fresh CI runner: no token cached, so every run asks the login host."""


def run_verify(argv: list[str]) -> int:
    """Run `exo-oauth verify` in this process with its output swallowed; return the exit status."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(["verify", *argv])


def timed(action: Callable[[], object]) -> float:
    """Return the seconds `action` took."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def process_tree_cpu(pid: int | None) -> float | None:
    """Return the CPU seconds process `pid` and all its descendants (live or reaped) have used; None without /proc."""
    proc = Path("/proc")
    if pid is None or not (proc / str(pid) / "stat").exists():
        return None
    children: dict[int, list[int]] = {}
    times: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime, in clock ticks
    total, waiting = 0, [pid]
    while waiting:
        current = waiting.pop()
        total += times.get(current, 0)
        waiting.extend(children.get(current, []))
    return total / os.sysconf("SC_CLK_TCK")


def secret_args(app: App) -> list[str]:
    """Return verify's identity flags for an app-only run of `app`, with its secret in the environment."""
    os.environ[SECRET_ENV] = app.secret or ""
    return ["--tenant", app.tenant_id, "--client-id", app.client_id, "--secret-env", SECRET_ENV,
            "--mailbox", app.mailbox, *CACHE]


class LatencyProxy:
    """Forwards TCP from 127.0.0.1:<port> to upstream ports, delaying each chunk (and the connect) by `delay` s."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self.loop.run_forever, name="latency-proxy", daemon=True)
        self._thread.start()

    def forward(self, upstream: int) -> int:
        """Listen on a free port that forwards to `upstream`; return the port."""

        async def listen() -> int:
            server = await asyncio.start_server(lambda r, w: self._connection(r, w, upstream), "127.0.0.1", 0)
            self._servers.append(server)
            port: int = server.sockets[0].getsockname()[1]
            return port

        return asyncio.run_coroutine_threadsafe(listen(), self.loop).result()

    async def _connection(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter,
                          upstream: int) -> None:
        await asyncio.sleep(2 * self.delay)  # the TCP handshake's round trip
        server_in, server_out = await asyncio.open_connection("127.0.0.1", upstream)
        # The proxy's shutdown cancels open connections; asyncio would log each cancelled handler as an error.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._pump(client_in, server_out), self._pump(server_in, client_out))

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                await asyncio.sleep(max(0.0, item[0] - self.loop.time()))
                sink.write(item[1])
                with contextlib.suppress(ConnectionError):
                    await sink.drain()
            sink.close()

        delivery = asyncio.create_task(deliver())
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                queue.put_nowait((self.loop.time() + self.delay, data))
        queue.put_nowait(None)
        await delivery

    def stop(self) -> None:
        """Close the listeners, cancel open connections, stop and close the event loop."""

        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


@contextlib.contextmanager
def routes(servers: MailServers, latency: float) -> Iterator[tuple[list[str], dict[str, Endpoint]]]:
    """Yield verify's host flags and the check endpoints, direct or through a LatencyProxy."""
    ports = {"imap": servers.dovecot.ports.imap, "pop": servers.dovecot.ports.pop,
             "smtp": servers.dovecot.ports.smtp, "login": int(servers.tokens.url.rsplit(":", 1)[1])}
    proxy = LatencyProxy(latency) if latency else None
    try:
        if proxy is not None:
            ports = {name: proxy.forward(port) for name, port in ports.items()}
        flags = ["--authority-host", f"https://127.0.0.1:{ports['login']}", "--ca-file", str(servers.tls.ca_file),
                 *(f for p in ("imap", "pop", "smtp") for f in (f"--{p}", f"127.0.0.1:{ports[p]}"))]
        yield flags, {p: Endpoint("127.0.0.1", ports[p])
                      for p in ("imap", "pop", "smtp")}
    finally:
        if proxy is not None:
            proxy.stop()


def concurrency(servers: MailServers, rounds: int, latency: float) -> None:
    """Print the median verify wall time, the median sequential sum of the three checks, and their ratio."""
    app = servers.app()
    where = f"{latency * 1000:g} ms each way" if latency else "loopback"
    with routes(servers, latency) as (flags, endpoints):
        measure(servers, app, [*secret_args(app), *flags], endpoints, rounds=rounds, label=f"{where}, warm")
        measure(servers, app, [*secret_args(app), *flags, *NO_CACHE], endpoints, rounds=rounds,
                label=f"{where}, cold")


def token_request(argv: list[str]) -> float:
    """Return the seconds one token request of the verify run `argv` takes, on its own (no cache with NO_CACHE)."""
    target = resolve_target(request_from(build_parser().parse_args(["verify", *argv])), os.environ)
    return timed(lambda: acquire_token(target, print))


def measure(servers: MailServers, app: App, argv: list[str], endpoints: dict[str, Endpoint], *, rounds: int,
            label: str) -> None:
    """Time verify and the sequential steps `rounds` times, interleaved; print medians, min-max and the ratio.

    The sequential steps are the three checks with a ready token, after one token request of their own when verify
    runs without a cache (`argv` ends with NO_CACHE).
    """
    cold = argv[-len(NO_CACHE):] == NO_CACHE
    if run_verify(argv) != 0:
        raise SystemExit("verify failed against the stand-ins; run the tests first")
    token = Secret(servers.tokens.issued_tokens()[-1])
    login = Login(app.mailbox, lambda: token, tls_context(servers.tls.ca_file), timeout=10)
    walls, sums, checks_only = [], [], []
    own_cpu, server_cpu = 0.0, 0.0
    server_known = True
    for _ in range(rounds):
        own, server = time.process_time(), process_tree_cpu(servers.dovecot.pid)
        walls.append(timed(lambda: run_verify(argv)))
        own_cpu += time.process_time() - own
        server_after = process_tree_cpu(servers.dovecot.pid)
        if server is None or server_after is None:
            server_known = False
        else:
            server_cpu += server_after - server
        token_wait = token_request(argv) if cold else 0.0
        checks = sum(timed(lambda: CHECKS[protocol](endpoint, login))  # noqa: B023 - called at once
                     for protocol, endpoint in endpoints.items())
        sums.append(token_wait + checks)
        checks_only.append(checks)
    wall, total = statistics.median(walls), statistics.median(sums)
    ratio = wall / total
    steps = "a token request and the 3 checks" if cold else "the 3 checks"
    print(f"[{label}] verify, 3 protocols: {wall * 1000:.1f} ms (min {min(walls) * 1000:.1f}, max "
          f"{max(walls) * 1000:.1f}); {steps} one after another: {total * 1000:.1f} ms (min {min(sums) * 1000:.1f}, "
          f"max {max(sums) * 1000:.1f}); ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'} (medians of {rounds})")
    if cold:
        print(f"[{label}] the same verify against the 3 checks alone (no token request): "
              f"{wall / statistics.median(checks_only):.2f}x")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    own_ms, server_ms = own_cpu / rounds * 1000, server_cpu / rounds * 1000
    if server_known:
        floor = (own_ms + server_ms) / cores
        print(f"[{label}] CPU per verify run (mean): this process {own_ms:.1f} ms + Dovecot {server_ms:.1f} ms on "
              f"{cores} cores, so no run can take under {floor:.1f} ms: at best {floor / (total * 1000):.2f}x")


def token_requests(servers: MailServers, folder: Path) -> None:
    """Print token endpoint requests per credential for a first and a second run."""
    secret_app = servers.app()
    key = pki.rsa_key()
    certificate = pki.self_signed(key, "bench app")
    certificate_app = servers.app(secret=None, certificate=certificate)
    pem = folder / "app.pem"
    pem.write_bytes(pki.private_pem(key) + pki.certificate_pem(certificate))
    runs = {
        "secret": (secret_app, [*secret_args(secret_app), *servers.server_args()]),
        "certificate": (certificate_app, ["--tenant", certificate_app.tenant_id, "--client-id",
                                          certificate_app.client_id, "--certificate", str(pem), "--mailbox",
                                          certificate_app.mailbox, *CACHE, *servers.server_args()]),
    }
    for name, (app, argv) in runs.items():
        counts = []
        for _ in range(2):
            before = servers.tokens.token_requests(app.client_id)
            if run_verify(argv) != 0:
                raise SystemExit(f"verify with the {name} credential failed against the stand-ins")
            counts.append(servers.tokens.token_requests(app.client_id) - before)
        verdict = "met" if counts == [1, 0] else "MISSED"
        print(f"token requests, {name} credential: first run {counts[0]}, second run {counts[1]} "
              f"(target 1 and 0): {verdict}")


def bench() -> None:
    """Start the stand-ins, measure, print, stop them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20, help="rounds per measurement (default: 20)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="one-way delay of the proxy (default: 20)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="exo-oauth-bench-") as folder:
        os.environ["XDG_CACHE_HOME"] = folder
        with running_mail_servers() as servers:
            concurrency(servers, options.rounds, 0.0)
            concurrency(servers, options.rounds, options.latency_ms / 1000)
            token_requests(servers, Path(folder))


if __name__ == "__main__":
    bench()
