"""HTTPS stand-ins on 127.0.0.1: a server on a free port with TLS from the test CA, and a quiet JSON handler."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .pki import ServerTLS


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and logs nothing (pytest shows failures, not every request)."""

    content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def send_json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        """Answer `status` with `body` as JSON and any extra headers."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class HttpsServer:
    """Serves `handler` on 127.0.0.1 and a free port with TLS from the test CA; handlers read `server.state`."""

    def __init__(self, tls: ServerTLS, handler: type[BaseHTTPRequestHandler], state: object, name: str) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.state = state  # type: ignore[attr-defined]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
