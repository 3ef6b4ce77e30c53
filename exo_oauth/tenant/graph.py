"""A read-only Microsoft Graph v1.0 client: GET only, `@odata.nextLink` paging, bounded 429/503 retries, a deadline.

Every request has a timeout and the whole run has a deadline, so nothing waits unbounded. Paging links are followed
only on the Graph host the run was pointed at, so the token is never sent anywhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..verify.secret import Secret
from ..verify.tokens import _reason

RETRY_STATUSES = frozenset({429, 503, 504})
"""Graph's throttling and transient answers, which carry Retry-After or may be retried after a back-off."""
MAX_RETRIES = 5
MAX_RETRY_AFTER = 60.0
"""Seconds: a longer Retry-After is waited for at most this long, and only within the run's deadline."""
PAGE_SIZE = 999
HTTP_OK = 200


class GraphError(Exception):
    """Graph could not be read: unreachable, throttled past the deadline, or refused (with Graph's reason)."""


@dataclass
class GraphClient:
    """GETs JSON from one Graph root with one bearer token; counts requests and retries for the bench."""

    root: str
    """`https://graph.microsoft.com` or an override; `/v1.0` is added here."""
    token: Secret
    session: Any
    """A requests.Session (verify's, which trusts only `--ca-file` when given)."""
    timeout: float
    """Seconds for each request."""
    deadline: float
    """time.monotonic() after which no request starts and no retry waits."""
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0
    """Requests sent, retries included."""
    throttled: int = 0
    """Answers that were 429, 503 or 504."""
    _origin: str = field(init=False, default="")

    def __post_init__(self) -> None:
        parts = urlsplit(self.root)
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET `path` (below /v1.0, or a full nextLink on the same host) and return its JSON object."""
        url = path if path.startswith("https://") else f"{self._origin}/v1.0/{path.lstrip('/')}"
        if not url.startswith(f"{self._origin}/"):
            raise GraphError(f"Graph sent a paging link to another host ({urlsplit(url).netloc}); not followed")
        for attempt in range(MAX_RETRIES + 1):
            response = self._send(url, params)
            if response.status_code not in RETRY_STATUSES:
                return self._json(response, url)
            self.throttled += 1
            wait = self._retry_after(response.headers.get("Retry-After"), attempt)
            if attempt == MAX_RETRIES or time.monotonic() + wait > self.deadline:
                break
            self.sleep(wait)
        raise GraphError(f"Graph kept answering {response.status_code} (throttled) for {_path(url)}; gave up after "
                         f"{attempt + 1} tries within the deadline; try again later or raise --deadline")

    def get_all(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """GET every page of a collection, following `@odata.nextLink`, and return all its `value` items."""
        items: list[dict[str, Any]] = []
        page = self.get(path, params)
        while True:
            items.extend(page.get("value") or [])
            link = page.get("@odata.nextLink")
            if not link:
                return items
            page = self.get(str(link))

    def _send(self, url: str, params: Mapping[str, str] | None) -> Any:
        import requests  # noqa: PLC0415 - heavy; `exo-oauth --help` must not load it

        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GraphError(f"the run's deadline passed before GET {_path(url)}; raise --deadline")
        self.calls += 1
        try:
            return self.session.get(url, params=params, timeout=min(self.timeout, left),
                                    headers={"Authorization": f"Bearer {self.token.reveal()}",
                                             "Accept": "application/json", "ConsistencyLevel": "eventual"})
        except requests.exceptions.RequestException as error:
            raise GraphError(f"GET {_path(url)}: {type(error).__name__}: {_reason(error)}") from None

    @staticmethod
    def _retry_after(header: str | None, attempt: int) -> float:
        try:
            seconds = float(header) if header is not None else 2.0 ** attempt
        except ValueError:
            seconds = 2.0 ** attempt
        return min(max(seconds, 0.0), MAX_RETRY_AFTER)

    def _json(self, response: Any, url: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != HTTP_OK or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else "no JSON error"
            hint = (" (the signed-in identity lacks a permission; see docs/adopting.md, \"Permissions\")"
                    if response.status_code in (401, 403) else "")
            raise GraphError(f"GET {_path(url)}: HTTP {response.status_code}, {detail}{hint}")
        return body


def _path(url: str) -> str:
    """Return the URL's path only: query strings may hold filters, never secrets, but stay short in messages."""
    return urlsplit(url).path
