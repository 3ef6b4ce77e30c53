"""Hostile login hosts and Graph stand-ins on 127.0.0.1: audit and adopt end by their deadline, in one line.

Every case runs the real command (sign-in through exo_oauth.signin, reads through GraphClient.send) against a peer
that echoes the credential, dribbles a byte at a time, sends a huge answer, pages without end or answers in a shape
Graph never does. For each: the command returns before the hang guard (not a timing assert), raises nothing, exits 4
(could not read; never 1, which is "findings"), prints exactly one line on stderr without a traceback, never the
secret in any spelling, and no terminal escape, CR or LF from the peer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from exo_domain.exit_codes import ExitCode
from standins.mailservers.pki import ServerTLS
from standins.mailservers.scripted import login_host
from tests.login_answers import CLIENT, GOOD_LOGIN, TENANT, discovery, login, run_bounded, send_json, send_raw
from tests.stack_factory import project

SECRET = "Abc8Q~hostile+graph/secret=value"
"""Has characters a form body encodes (`+`, `/`, `=`), so an echo of the request shows it percent-encoded."""
SECRET_SPELLINGS = (SECRET, quote_plus(SECRET), quote(SECRET, safe=""))
"""Seconds after which a test calls the command hung; never reached when it keeps its deadline (a few seconds)."""
DEADLINE = "3"
ENDED = threading.Event()
"""Set when a test ends, so its dribbling peer stops writing."""


@pytest.fixture(autouse=True)
def _end_peers() -> Iterator[None]:
    ENDED.clear()
    yield
    ENDED.set()


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tls: ServerTLS, authority: str,
        graph: str, *extra: str, command: str = "audit", credential: bool = True) -> str:
    """Run the command in a thread; check it ends, exits 4 and says one clean line; return stderr."""
    monkeypatch.setenv("EXO_TEST_SECRET", SECRET)
    argv = [command, "--tenant", TENANT, "--authority-host", authority, "--graph-host", graph,
            "--ca-file", str(tls.ca_file), "--timeout", "1", "--deadline", DEADLINE, *extra]
    if credential:
        argv += ["--client-id", CLIENT, "--secret-env", "EXO_TEST_SECRET"]
    status = run_bounded(argv)
    out, err = capsys.readouterr()
    assert status == ExitCode.NOT_RUN, err
    for spelling in SECRET_SPELLINGS:
        assert spelling not in out + err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("To sign in")]
    assert len(lines) == 1, err
    assert not any(c in lines[0] for c in "\x1b\r\x07\x9b")
    return lines[0]


def graph_answer(answer: Callable[[BaseHTTPRequestHandler], None]) -> Callable[..., None]:
    """Return a Graph host that answers every request with `answer`."""
    return lambda handler, method, body: answer(handler)


def graph_json(payload: Any) -> Callable[..., None]:
    """Return a Graph host whose every read gets `payload`, alone or, for a JSON batch, as each request's body."""
    def answer(handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        if method == "POST":
            ids = [request["id"] for request in json.loads(body)["requests"]]
            send_json(handler, 200, {"responses": [{"id": i, "status": 200, "body": payload} for i in ids]})
        else:
            send_json(handler, 200, payload)
    return answer


def dribble_headers(handler: BaseHTTPRequestHandler) -> None:
    """Send the status line, then a header one byte every 0.2 s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    while not ENDED.is_set():
        handler.wfile.write(b"X")
        handler.wfile.flush()
        time.sleep(0.2)


def dribble_body(handler: BaseHTTPRequestHandler) -> None:
    """Send the headers, then the body one byte every 0.2 s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    while not ENDED.is_set():
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def huge(handler: BaseHTTPRequestHandler) -> None:
    """Send 64 MB of a JSON string, as fast as the client reads."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 67108866\r\n\r\n\"")
    chunk = b"a" * (1024 * 1024)
    for _ in range(64):
        if ENDED.is_set():
            return
        handler.wfile.write(chunk)


def endless(handler: BaseHTTPRequestHandler) -> None:
    """Answer every page with a full page and a link to the next."""
    base = f"https://{handler.headers['Host']}/v1.0/applications"
    send_json(handler, 200, {"value": [{"id": "x" * 100}] * 100, "@odata.nextLink": f"{base}?$skiptoken={time.time()}"})


def first_party(value: Any) -> Callable[..., None]:
    """Answer every collection read, batched or not, with this `value`."""
    return graph_json({"value": value})


GRAPH_CASES: dict[str, tuple[Callable[..., None], str]] = {
    "302 to another host": (graph_answer(lambda h: send_raw(h, 302, b"", {"Location": "https://evil.example/v1.0/x"})),
                            "redirect"),
    "307 to the same host": (graph_answer(lambda h: send_raw(h, 307, b"", {"Location": "/v1.0/other"})), "redirect"),
    "JSON nested 100,000 deep": (graph_answer(lambda h: send_raw(h, 200, b"[" * 100_000 + b"]" * 100_000)),
                                 "not a JSON object"),
    "Retry-After: nan": (graph_answer(lambda h: send_raw(h, 429, b"{}", {"Retry-After": "nan"})), "throttled"),
    "Retry-After: inf": (graph_answer(lambda h: send_raw(h, 503, b"{}", {"Retry-After": "inf"})), "throttled"),
    "Retry-After: -1e400": (graph_answer(lambda h: send_raw(h, 429, b"{}", {"Retry-After": "-1e400"})), "throttled"),
    "not JSON": (graph_answer(lambda h: send_raw(h, 200, b"<html>hello</html>")), "not a JSON object"),
    "a JSON array": (graph_answer(lambda h: send_json(h, 200, [1, 2])), "not a JSON object"),
    "value is a number": (first_party(5), "`value` is not a list of objects"),
    "value holds numbers": (first_party([1, 2]), "`value` is not a list of objects"),
    "an object without id": (first_party([{"appId": "x"}]), "a field is missing: 'id'"),
    "appRoles is a number": (first_party([{"id": "1", "appRoles": 5}]), "TypeError"),
    "appRoles holds text": (first_party([{"id": "1", "appRoles": ["x"]}]), "can't read"),
    "nextLink is a number": (graph_json({"value": [], "@odata.nextLink": 5}), "not a URL"),
    "error with terminal escapes": (graph_answer(lambda h: send_json(h, 403, {"error": {
        "code": "\x1b[31mDenied\x1b[0m", "message": "line one\r\nline two\x1b]0;pwned\x07\x9b2J"}})), "HTTP 403"),
    "headers a byte every 0.2 s": (graph_answer(dribble_headers), "deadline"),
    "body a byte every 0.2 s": (graph_answer(dribble_body), "deadline"),
    "a 64 MB answer": (graph_answer(huge), "larger than 32 MB"),
    "paging without end": (graph_answer(endless), ""),
}


@pytest.mark.parametrize("case", GRAPH_CASES)
def test_a_hostile_graph_host_gets_one_line_and_exit_4_within_the_deadline(
        case: str, server_tls: ServerTLS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Redirects, malformed, huge, endless and dribbled Graph answers: one line naming why, exit 4, by the deadline."""
    answer, words = GRAPH_CASES[case]
    with login_host(GOOD_LOGIN, server_tls) as authority, login_host(answer, server_tls) as graph:
        line = run(capsys, monkeypatch, server_tls, authority.origin, graph.origin)
    assert line.startswith("exo-oauth audit: ")
    assert words in line
    # The only POST audit sends is a JSON batch of GETs to the Graph host it was pointed at (decision 0124).
    posts = [(path, body) for method, path, body in graph.requests if method == "POST"]
    assert all(urlsplit(path).path == "/v1.0/$batch" and {r["method"] for r in json.loads(body)["requests"]} == {"GET"}
               for path, body in posts)


@pytest.mark.parametrize("case", ["an object without id", "headers a byte every 0.2 s", "a 64 MB answer"])
def test_adopt_holds_like_audit_and_writes_nothing(
        case: str, server_tls: ServerTLS, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Adopt reads through the same client: the same one line and exit 4, and no stack file is written."""
    folder = project(tmp_path)
    answer, words = GRAPH_CASES[case]
    with login_host(GOOD_LOGIN, server_tls) as authority, login_host(answer, server_tls) as graph:
        line = run(capsys, monkeypatch, server_tls, authority.origin, graph.origin, "--stack", "adopted",
                   "--project-dir", str(folder), command="adopt")
    assert line.startswith("exo-oauth adopt: ")
    assert words in line
    assert sorted(p.name for p in (folder / "stacks").iterdir()) == []


def echo_request(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """Answer the token request with an OAuth error that repeats the request body, as some proxies do."""
    send_json(handler, status, {"error": "invalid_client", "error_description": f"bad request {body.decode()}"})


def token_dribble(handler: BaseHTTPRequestHandler) -> None:
    """Send the token reply's headers, then one byte every 0.2 s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    while not ENDED.is_set():
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def pending_forever(handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
    """Answer as a device code login host whose user never signs in: every poll says authorization_pending."""
    base = f"https://{handler.headers['Host']}/{TENANT}/oauth2/v2.0"
    if method == "GET":
        send_json(handler, 200, {"issuer": f"https://{handler.headers['Host']}/{TENANT}/v2.0",
                                 "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
                                 "device_authorization_endpoint": f"{base}/devicecode"})
    elif handler.path.endswith("/devicecode"):
        send_json(handler, 200, {"device_code": "dc", "user_code": "ABCD-EFGH", "interval": 1, "expires_in": 900,
                                 "verification_uri": "https://microsoft.com/devicelogin",
                                 "message": "To sign in, enter ABCD-EFGH"})
    else:
        send_json(handler, 400, {"error": "authorization_pending", "error_description": "waiting"})


LOGIN_CASES: dict[str, tuple[Callable[..., None], str, bool]] = {
    "the token error repeats the request (client_secret=...)": (
        lambda h, method, body: discovery(h) if method == "GET" else echo_request(h, 400, body), "invalid_client",
        True),
    "a proxy page repeats the request": (
        lambda h, method, body: discovery(h) if method == "GET" else send_raw(h, 502, b"echo: " + body, {}),
        "bad-reply", True),
    "the token reply a byte every 0.2 s": (login(token_dribble), "timeout", True),
    "device code: the user never signs in": (pending_forever, "timeout", False),
}


@pytest.mark.parametrize("case", LOGIN_CASES)
def test_a_hostile_login_host_ends_the_audit_sign_in_in_one_scrubbed_line(
        case: str, server_tls: ServerTLS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Echoed credentials are scrubbed in every spelling; a dribbled reply or a device code wait ends by --deadline."""
    answer, words, credential = LOGIN_CASES[case]
    with login_host(answer, server_tls) as authority, login_host(first_party([]), server_tls) as graph:
        line = run(capsys, monkeypatch, server_tls, authority.origin, graph.origin, credential=credential)
    assert line.startswith(f"exo-oauth audit: sign-in to {authority.origin}/{TENANT} failed: ")
    assert words in line
    assert graph.requests == []
    if credential:
        assert any(quote_plus(SECRET) in body.decode() for _, _, body in authority.requests), "the echo was real"

