"""Answers of scripted login hosts (standins/mailservers/scripted.py): discovery, token replies, raw HTTP replies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt

from exo_oauth.cli import main

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT = "22222222-3333-4444-8555-666666666666"
GOOD_CLAIMS = {"aud": "https://outlook.office365.com", "tid": TENANT, "appid": CLIENT,
               "roles": ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"], "exp": 4102444800}


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Send `body` as JSON with `status`."""
    send_raw(handler, status, json.dumps(body).encode())


def send_raw(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
    """Send `data` with `status` and `headers`."""
    handler.send_response(status)
    for name, value in (headers or {"Content-Type": "application/json"}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def discovery(handler: BaseHTTPRequestHandler, token_endpoint: str | None = None) -> None:
    """Send an OpenID configuration whose token endpoint is this host's, or `token_endpoint`."""
    base = f"https://{handler.headers['Host']}/{TENANT}"
    send_json(handler, 200, {"issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                             "token_endpoint": token_endpoint or f"{base}/oauth2/v2.0/token"})


def login(token: Callable[[BaseHTTPRequestHandler], None],
          on_discovery: Callable[[BaseHTTPRequestHandler], None] = discovery) -> Callable[..., None]:
    """Return a login host answer: discovery documents by `on_discovery`, token requests by `token`."""
    def answer(handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        (on_discovery if method == "GET" else token)(handler)
    return answer


def issue(claims: dict[str, Any]) -> Callable[[BaseHTTPRequestHandler], None]:
    """Return a token endpoint answer issuing an HS256 token with `claims`."""
    def token(handler: BaseHTTPRequestHandler) -> None:
        send_json(handler, 200, {"token_type": "Bearer", "expires_in": 3600,
                                 "access_token": jwt.encode(claims, "k" * 32, algorithm="HS256")})
    return token


GOOD_LOGIN = login(issue(GOOD_CLAIMS))


HANG_GUARD = 120.0
"""Seconds after which a command that has not ended counts as hung (its own deadlines are far shorter)."""


def run_bounded(argv: list[str]) -> int:
    """Run `exo-oauth argv` in a thread; fail if it hangs or raises; return its exit status."""
    outcome: dict[str, Any] = {}

    def go() -> None:
        try:
            outcome["status"] = main(argv)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), f"{argv[0]} did not end"
    assert "error" not in outcome, f"{argv[0]} raised {outcome.get('error')!r}"
    status: int = outcome["status"]
    return status
