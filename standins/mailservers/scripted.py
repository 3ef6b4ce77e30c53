"""Scripted peers: mail servers and login hosts that say exactly what a test needs.

scripted_server answers with Exchange Online's documented reply texts, which Dovecot cannot give;
conversation_server plays a hostile mail server; login_host plays a hostile token endpoint.

Each rule maps a command word (the first word, after the tag for IMAP) to the lines to send back; the line after a
SASL challenge (`+ ` or `334 `) is looked up as `""`. `{tag}` in a reply becomes the client's last IMAP tag. After
answering `STARTTLS` the connection switches to TLS, for SMTP submission.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .pki import ServerTLS


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        config: dict[str, Any] = self.server.config  # type: ignore[attr-defined]
        connection: socket.socket = self.connection
        if config["implicit_tls"]:
            connection = config["context"].wrap_socket(connection, server_side=True)
        reader = connection.makefile("rb")
        connection.sendall(config["greeting"].encode() + b"\r\n")
        tag, challenged = "", False
        while line := reader.readline(65536):
            words = line.decode(errors="replace").split() or [""]
            if challenged:
                word = ""
            elif config["tagged"]:
                tag, word = words[0], (words[1:] or [""])[0].upper()
            else:
                word = words[0].upper()
            replies: Sequence[str] = config["rules"].get(word, ["500 unexpected command"])
            for reply in replies:
                connection.sendall(reply.format(tag=tag).encode() + b"\r\n")
            challenged = bool(replies) and replies[-1] in ("+ ", "334 ")
            if word == "STARTTLS":
                connection = config["context"].wrap_socket(connection, server_side=True)
                reader = connection.makefile("rb")
            if word in ("LOGOUT", "QUIT"):
                return


@contextmanager
def scripted_server(tls: ServerTLS, greeting: str, rules: Mapping[str, Sequence[str]], *, implicit_tls: bool,
                    tagged: bool = False) -> Iterator[int]:
    """Serve the script on 127.0.0.1 and a free port (yielded) until the block ends."""
    yield from _serve(_Handler, {"context": _server_context(tls), "greeting": greeting, "rules": rules,
                                 "implicit_tls": implicit_tls, "tagged": tagged})


Script = Callable[[socket.socket, Any], None]
"""Drives one connection: gets the (TLS) socket and its binary reader, sends and reads what it likes."""


class _ScriptHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        config: dict[str, Any] = self.server.config  # type: ignore[attr-defined]
        connection: socket.socket = self.connection
        try:
            if config["implicit_tls"]:
                connection = config["context"].wrap_socket(connection, server_side=True)
            config["script"](connection, connection.makefile("rb"))
        except (OSError, ValueError):
            pass  # the client hung up, as verify does when a step runs out of time


def _serve(handler: type[socketserver.BaseRequestHandler], config: dict[str, Any]) -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.config = config  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _server_context(tls: ServerTLS) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@contextmanager
def conversation_server(tls: ServerTLS, script: Script, *, implicit_tls: bool) -> Iterator[int]:
    """Serve a free-form conversation (endless lines, one byte a second, silence...) on 127.0.0.1; yield the port."""
    yield from _serve(_ScriptHandler, {"context": _server_context(tls), "script": script,
                                       "implicit_tls": implicit_tls})


Answer = Callable[[BaseHTTPRequestHandler, str, bytes], None]
"""Answers one HTTP request: gets the handler (to send with), the method and the request body."""


class _LoginHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        config: dict[str, Any] = self.server.config  # type: ignore[attr-defined]
        config["requests"].append((method, self.path, body))
        with suppress(OSError):  # the client hung up
            config["answer"](self, method, body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


class LoginHost:
    """A scripted HTTPS (or, without TLS, plain HTTP) login host; `requests` records (method, path, body)."""

    def __init__(self, answer: Answer, tls: ServerTLS | None) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginHandler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = _https_context(tls).wrap_socket(self.server.socket, server_side=True)
        self.server.config = {"answer": answer, "requests": self.requests}  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """Return the URL verify's --authority-host takes."""
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"


def _https_context(tls: ServerTLS) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@contextmanager
def login_host(answer: Answer, tls: ServerTLS | None) -> Iterator[LoginHost]:
    """Serve `answer` for every request until the block ends."""
    host = LoginHost(answer, tls)
    host.thread.start()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()
        host.thread.join(timeout=5)
