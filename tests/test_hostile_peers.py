"""Hostile peers: verify against scripted login hosts and mail servers ends in time with a named cause.

For every case: verify returns (a hang guard, not a timing assert), raises nothing, prints no traceback, never the
secret, no terminal escape, and the failed row carries exactly one finding.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from exo_domain.exit_codes import ExitCode
from standins.mailservers.pki import ServerTLS
from standins.mailservers.scripted import LoginHost, Script, conversation_server, login_host
from tests.login_answers import (
    CLIENT,
    GOOD_CLAIMS,
    GOOD_LOGIN,
    HANG_GUARD,
    TENANT,
    discovery,
    issue,
    login,
    run_bounded,
    send_json,
    send_raw,
)

SECRET = "Abc8Q~hostile.peer-secret_value"
MAILBOX = "scanner@contoso.example"
"""Seconds after which a test calls verify hung; never reached when verify keeps its deadlines (a few seconds)."""
TIMEOUT = "1"




def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tls: ServerTLS, host: LoginHost,
        protocol: str = "imap", port: int = 9, *extra: str) -> tuple[dict[str, Any], str]:
    """Run verify in a thread; fail if it hangs or raises; return the JSON report and stderr."""
    monkeypatch.setenv("EXO_TEST_SECRET", SECRET)
    argv = ["verify", "--tenant", TENANT, "--client-id", CLIENT, "--secret-env", "EXO_TEST_SECRET",
            "--mailbox", MAILBOX, "--authority-host", host.origin, "--ca-file", str(tls.ca_file),
            "--token-cache", "off", "--timeout", TIMEOUT, "--protocols", protocol, f"--{protocol}",
            f"127.0.0.1:{port}", "--format", "json", *extra]
    status = run_bounded(argv)
    out, err = capsys.readouterr()
    assert status in (ExitCode.FAILED, ExitCode.NOT_RUN)
    assert "Traceback" not in err
    assert SECRET not in out + err
    return json.loads(out), err


def finding(report: dict[str, Any], row: str) -> str:
    """Return the one finding code of the failed `row`."""
    checks = {c["name"]: c for c in report["checks"]}
    assert checks[row]["status"] == "failed"
    assert len(checks[row]["findings"]) == 1
    code: str = checks[row]["findings"][0]["code"]
    return code


# -- the login host ------------------------------------------------------------------------------------------------


def stall(handler: BaseHTTPRequestHandler) -> None:
    """Never answer."""
    time.sleep(HANG_GUARD)


def slow_loris(handler: BaseHTTPRequestHandler) -> None:
    """Send the headers, then one byte of the body every 0.3 s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(int(HANG_GUARD * 3)):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.3)


TOKEN_CASES: dict[str, tuple[Callable[..., None], str]] = {
    "discovery HTTP 500": (login(issue(GOOD_CLAIMS), lambda h: send_raw(h, 500, b"<h1>boom</h1>", {})),
                           "login-bad-reply"),
    "token HTTP 502 from a proxy": (login(lambda h: send_raw(h, 502, b"Bad Gateway", {})), "login-bad-reply"),
    "discovery {}": (login(issue(GOOD_CLAIMS), lambda h: send_json(h, 200, {})), "login-bad-reply"),
    "discovery []": (login(issue(GOOD_CLAIMS), lambda h: send_json(h, 200, [])), "login-bad-reply"),
    "discovery not JSON": (login(issue(GOOD_CLAIMS), lambda h: send_raw(h, 200, b"hello", {})), "login-bad-reply"),
    "token not JSON": (login(lambda h: send_raw(h, 200, b"<html>", {})), "login-bad-reply"),
    "token [1,2]": (login(lambda h: send_json(h, 200, [1, 2])), "login-bad-reply"),
    "expires_in null": (login(lambda h: send_json(h, 200, {"access_token": "a.b.c", "expires_in": None,
                                                           "token_type": "Bearer"})), "login-bad-reply"),
    "access_token a number": (login(lambda h: send_json(h, 200, {"access_token": 1234567, "expires_in": 3600,
                                                                 "token_type": "Bearer"})), "login-bad-reply"),
    "error_codes [null]": (login(lambda h: send_json(h, 400, {"error": "invalid_client", "error_codes": [None],
                                                              "error_description": "\x1b[31mno\x1b[0m"})),
                           "token-error"),
    "token endpoint over http": (login(issue(GOOD_CLAIMS), lambda h: discovery(h, "http://127.0.0.1:9/t")),
                                 "login-bad-reply"),
    "token endpoint on another origin": (
        login(issue(GOOD_CLAIMS), lambda h: discovery(h, "https://127.0.0.2:9/t")), "login-insecure"),
    "login host never answers": (login(stall, stall), "login-timeout"),
    "token reply a byte every 0.3 s": (login(slow_loris), "login-timeout"),
}


@pytest.mark.parametrize("case", TOKEN_CASES)
def test_a_hostile_login_host_gets_a_named_cause_within_the_deadline(
        case: str, server_tls: ServerTLS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every broken or hostile login host reply ends the run with one finding on the token row, no traceback."""
    answer, code = TOKEN_CASES[case]
    with login_host(answer, server_tls) as host:
        report, _ = run(capsys, monkeypatch, server_tls, host)
    assert finding(report, "token") == code
    assert "\x1b" not in json.dumps(report, ensure_ascii=False)


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirected_token_request_is_refused_and_the_secret_goes_nowhere(
        status: int, server_tls: ServerTLS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 307/308 to a plain-HTTP listener is a failure of its own; the listener receives nothing."""
    with login_host(lambda h, m, b: send_json(h, 200, {}), None) as plain:
        def redirect(handler: BaseHTTPRequestHandler) -> None:
            send_raw(handler, status, b"", {"Location": f"{plain.origin}/steal"})

        with login_host(login(redirect), server_tls) as host:
            report, _ = run(capsys, monkeypatch, server_tls, host)
        assert plain.requests == []
    assert finding(report, "token") == "login-redirect", json.dumps(report["checks"])
    assert report["ok"] is False


CLAIM_CASES: dict[str, dict[str, Any]] = {
    "exp tomorrow": {"exp": "tomorrow"}, "exp 1e20": {"exp": 1e20}, "roles [1,2]": {"roles": [1, 2]},
    "aud 5": {"aud": 5}, "ANSI in upn": {"upn": "\x1b]0;pwned\x07evil\x1b[2J"},
}


@pytest.mark.parametrize("case", CLAIM_CASES)
def test_claims_of_any_type_are_read_as_untrusted(case: str, server_tls: ServerTLS,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A token whose claims have the wrong types is diagnosed, not a traceback; escapes never reach the output."""
    def refuse(sock: socket.socket, reader: Any, tag: bytes) -> None:
        sock.sendall(b"+ \r\n")
        reader.readline()
        sock.sendall(tag + b" NO AUTHENTICATE failed.\r\n")
        reader.readline()

    with login_host(login(issue(GOOD_CLAIMS | CLAIM_CASES[case])), server_tls) as host, \
            conversation_server(server_tls, imap_after_auth(refuse), implicit_tls=True) as port:
        report, _ = run(capsys, monkeypatch, server_tls, host, "imap", port)
    assert finding(report, "imap")
    assert "\x1b" not in json.dumps(report, ensure_ascii=False)


# -- mail servers --------------------------------------------------------------------------------------------------


def dribble(sock: socket.socket, data: bytes) -> None:
    """Send one byte every 0.3 s: each read gets data well within --timeout, so only a step deadline ends it."""
    for byte in data * 100:
        sock.sendall(bytes([byte]))
        time.sleep(0.3)


def greet_then_silence(greeting: bytes) -> Script:
    """Return a script that sends `greeting` and then says nothing."""
    def script(sock: socket.socket, reader: Any) -> None:
        sock.sendall(greeting)
        silent(sock, reader)
    return script


def silent(sock: socket.socket, reader: Any) -> None:
    """Accept the connection and say nothing."""
    time.sleep(HANG_GUARD)


def imap_after_auth(then: Callable[[socket.socket, Any, bytes], None]) -> Script:
    """Return a script that greets, answers CAPABILITY, reads AUTHENTICATE, then does `then`."""
    def script(sock: socket.socket, reader: Any) -> None:
        sock.sendall(b"* OK ready\r\n")
        tag = reader.readline().split()[0]
        sock.sendall(b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\n" + tag + b" OK done\r\n")
        tag = reader.readline().split()[0]
        then(sock, reader, tag)
    return script


def endless(line: bytes) -> Callable[[socket.socket, Any, bytes], None]:
    """Return a script step that sends `line` forever."""
    def send(sock: socket.socket, reader: Any, tag: bytes) -> None:
        while True:
            sock.sendall(line * 64)
    return send


def endless_challenges(sock: socket.socket, reader: Any, tag: bytes) -> None:
    """Answer every line with another `+ ` challenge."""
    while True:
        sock.sendall(b"+ \r\n")
        reader.readline()


def capability_e9(sock: socket.socket, reader: Any) -> None:
    """Answer CAPABILITY with a byte 0xE9 in it."""
    sock.sendall(b"* OK ready\r\n")
    tag = reader.readline().split()[0]
    sock.sendall(b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 caf\xe9\r\n" + tag + b" OK done\r\n")
    reader.readline()


def pop_stat(answer: bytes) -> Script:
    """Return a POP script that logs in and answers STAT with `answer`."""
    def script(sock: socket.socket, reader: Any) -> None:
        sock.sendall(b"+OK ready\r\n")
        reader.readline()
        sock.sendall(b"+ \r\n")
        reader.readline()
        sock.sendall(b"+OK authenticated\r\n")
        reader.readline()
        sock.sendall(answer + b"\r\n")
        reader.readline()
    return script


TLS_RECORD_HEADER = b"\x16\x03\x03\x40\x00"
"""A TLS handshake record announcing 16 KiB: the client reads on while the server sends it a byte at a time."""


def tls_handshake_dribble(sock: socket.socket, reader: Any) -> None:
    """Answer the ClientHello with a handshake record one byte every 0.3 s (it would take over an hour)."""
    sock.recv(4096)
    dribble(sock, TLS_RECORD_HEADER)


def smtp_starttls_then_dribble(sock: socket.socket, reader: Any) -> None:
    """Offer STARTTLS, accept it, then drag the TLS handshake out a byte at a time."""
    sock.sendall(b"220 ready\r\n")
    reader.readline()
    sock.sendall(b"250-hello\r\n250 STARTTLS\r\n")
    reader.readline()
    sock.sendall(b"220 go ahead\r\n")
    tls_handshake_dribble(sock, reader)


def smtp_endless_ehlo(sock: socket.socket, reader: Any) -> None:
    """Answer EHLO with `250-` lines forever."""
    sock.sendall(b"220 ready\r\n")
    reader.readline()
    while True:
        sock.sendall(b"250-PIPELINING\r\n" * 64)


MAIL_CASES: dict[str, tuple[str, Script, bool, set[str]]] = {
    "IMAP no greeting": ("imap", silent, True, {"timeout"}),
    "IMAP greeting a byte every 0.3 s": ("imap", lambda s, r: dribble(s, b"* OK "), True, {"timeout"}),
    "IMAP greeting literal {99999999999999}": (
        "imap", greet_then_silence(b"* OK {99999999999999}\r\n"), True, {"bad-reply"}),
    "IMAP CAPABILITY with byte 0xE9": ("imap", capability_e9, True, {"bad-reply"}),
    "IMAP continuation '+ a'": ("imap", imap_after_auth(lambda s, r, t: s.sendall(b"+ a\r\n")),
                                True, {"bad-reply"}),
    "IMAP endless untagged lines": ("imap", imap_after_auth(endless(b"* OK still here\r\n")), True,
                                    {"bad-reply", "stalled"}),
    "IMAP endless '+ ' challenges": ("imap", imap_after_auth(endless_challenges), True, {"bad-reply", "stalled"}),
    "IMAP one endless line": ("imap", imap_after_auth(endless(b"x")), True, {"bad-reply", "stalled"}),
    "IMAP auth reply a byte every 0.3 s": ("imap", imap_after_auth(lambda s, r, t: dribble(s, b"* OK ")), True,
                                           {"stalled"}),
    "POP no greeting": ("pop", silent, True, {"timeout"}),
    "POP greeting a byte every 0.3 s": ("pop", lambda s, r: dribble(s, b"+OK "), True, {"timeout"}),
    "POP STAT '+OK'": ("pop", pop_stat(b"+OK"), True, {"bad-reply"}),
    "POP STAT '+OK lots many'": ("pop", pop_stat(b"+OK lots many"), True, {"bad-reply"}),
    "SMTP no banner": ("smtp", silent, False, {"timeout"}),
    "SMTP banner a byte every 0.3 s": ("smtp", lambda s, r: dribble(s, b"220 "), False, {"timeout"}),
    "SMTP endless 250- lines": ("smtp", smtp_endless_ehlo, False, {"bad-reply", "stalled"}),
    # The TLS handshake runs inside imaplib, poplib and smtplib, before the guard attaches: CPython bounds a whole
    # handshake by the socket's timeout (_ssl.c keeps one deadline across its reads), so a slow one still ends.
    "IMAP TLS handshake a byte every 0.3 s": ("imap", tls_handshake_dribble, False, {"timeout"}),
    "POP TLS handshake a byte every 0.3 s": ("pop", tls_handshake_dribble, False, {"timeout"}),
    "SMTP STARTTLS handshake a byte every 0.3 s": ("smtp", smtp_starttls_then_dribble, False, {"timeout", "stalled"}),
    "SMTP ANSI in the banner": ("smtp", greet_then_silence(b"554 \x1b[2J\x1b]0;pwned\x07no\r\n"),
                                False, {"bad-reply"}),
}


@pytest.mark.parametrize("case", MAIL_CASES)
def test_a_hostile_mail_server_gets_a_named_cause_within_the_deadline(
        case: str, server_tls: ServerTLS, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Silence, slow-loris, endless lines and unreadable replies end the check with one finding, no traceback."""
    protocol, script, implicit_tls, codes = MAIL_CASES[case]
    with ExitStack() as stack:
        host = stack.enter_context(login_host(GOOD_LOGIN, server_tls))
        port = stack.enter_context(conversation_server(server_tls, script, implicit_tls=implicit_tls))
        report, _ = run(capsys, monkeypatch, server_tls, host, protocol, port)
    assert finding(report, protocol) in codes, json.dumps(report["checks"])
    assert "\x1b" not in json.dumps(report, ensure_ascii=False)

