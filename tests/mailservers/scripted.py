"""A scripted TLS mail server that answers with Exchange Online's documented reply texts, which Dovecot cannot give.

Each rule maps a command word (the first word, after the tag for IMAP) to the lines to send back; the line after a
SASL challenge (`+ ` or `334 `) is looked up as `""`. `{tag}` in a reply becomes the client's last IMAP tag. After
answering `STARTTLS` the connection switches to TLS, for SMTP submission.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.config = {"context": context, "greeting": greeting, "rules": rules,  # type: ignore[attr-defined]
                     "implicit_tls": implicit_tls, "tagged": tagged}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
