"""The requests session every sign-in and Graph request goes through, and the one-line reason of a network error."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..util.text import printable

HTTP_REDIRECTS = range(300, 400)
MAX_TIMEOUT = 300.0
"""The longest `--timeout` (seconds per request) a command that signs in accepts."""
MAX_TEXT = 300
"""Characters of a peer's or the network's text kept in a message."""


class RefusedRequestError(Exception):
    """A request the session refused to send or to follow: a redirect, plain HTTP, or a body to another origin."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        """`redirect` or `insecure`."""


def origin(url: str) -> tuple[str, str, int | None]:
    """Return the scheme, lower-case host and port of `url` (the port None when it cannot be read)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else None)
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def http_session(post_to: str, ca_file: Path | None, timeout: float, deadline: float) -> Any:
    """Return a requests session that keeps the sign-in's promises (msal's `http_client`, and Graph's).

    msal applies `timeout` only to sessions it builds itself, and requests follows 307/308 with the body: so this
    session sets the timeout on every request (never past the run's `deadline`, a monotonic time), never follows a
    redirect (a 30x raises RefusedRequestError), sends nothing over plain HTTP, and sends a body (the credential
    travels in POST bodies) only to the origin of `post_to`. TLS is always verified; with `ca_file` only against those
    CAs (REQUESTS_CA_BUNDLE can't widen it). The timeout bounds each read, not a peer that sends a byte at a time:
    callers that must end by the deadline whatever the peer does wait for the answer on another thread.
    """
    import requests  # noqa: PLC0415 - requests is heavy; `exo-oauth --help` must not load it

    allowed = origin(post_to)

    class BoundedSession(requests.Session):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            settings = super().merge_environment_settings(*args, **kwargs)
            settings["verify"] = str(ca_file) if ca_file else True
            return settings

        def send(self, request: Any, **kwargs: Any) -> Any:
            where = origin(str(request.url))
            if where[0] != "https":
                raise RefusedRequestError("insecure", f"a request was sent to {where[0]}://{where[1]}, not HTTPS; "
                                          "nothing was sent there")
            if str(request.method).upper() != "GET" and where != allowed:
                raise RefusedRequestError("insecure", f"a request was sent to post to {where[1]}, which is not the "
                                          f"configured host {allowed[1]}; the credential was not sent there")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise requests.exceptions.Timeout(f"the run's deadline passed before a request to {where[1]}")
            kwargs["timeout"] = min(timeout, remaining)
            kwargs["allow_redirects"] = False
            response = super().send(request, **kwargs)
            if response.is_redirect or HTTP_REDIRECTS.start <= response.status_code < HTTP_REDIRECTS.stop:
                to = origin(response.headers.get("location", ""))
                response.close()
                raise RefusedRequestError("redirect", f"{where[1]} answered HTTP {response.status_code}, a redirect "
                                          f"to {to[0] or '?'}://{to[1] or '?'}; requests with a credential or token "
                                          "never follow redirects")
            return response

    return BoundedSession()


def network_reason(error: BaseException) -> str:
    """Return the innermost reason of a requests error, which names the host but carries no request body."""
    reason: BaseException = error
    while reason.__context__ is not None and str(reason.__context__):
        reason = reason.__context__
    return printable((str(reason).splitlines() or [type(reason).__name__])[0])[:MAX_TEXT]
