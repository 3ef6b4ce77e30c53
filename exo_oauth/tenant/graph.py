"""A read-only Microsoft Graph v1.0 client: GET only, `@odata.nextLink` paging, bounded 429/503 retries, a deadline.

Every request has a timeout and the whole run has a deadline, so nothing waits unbounded. Paging links are followed
only on the Graph host the run was pointed at, so the token is never sent anywhere else. Many reads go out as JSON
batches (`POST /$batch` whose requests are all GETs), 20 to a batch and a few batches at once (docs/decisions/0124).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..verify.secret import Secret
from ..verify.tokens import _reason

RETRY_STATUSES = frozenset({429, 503, 504})
"""Graph's throttling and transient answers, which carry Retry-After or may be retried after a back-off."""
MAX_RETRIES = 5
MAX_RETRY_AFTER = 60.0
"""Seconds: a longer Retry-After is waited for at most this long, and only within the run's deadline."""
PAGE_SIZE = 999
HTTP_OK = 200
BATCH_SIZE = 20
"""Graph's most requests in one JSON batch (https://learn.microsoft.com/graph/json-batching, "Batch size
limitations"; microsoftgraph/microsoft-graph-docs-contrib 028b8e3, concepts/json-batching.md)."""
IN_FLIGHT = 4
"""Batches sent at once: a few, as Graph's throttling guidance asks clients to limit how often they call
(https://learn.microsoft.com/graph/throttling). Graph judges each request of a batch against its limits and answers a
throttled one with 429 and Retry-After (json-batching page), after which that request is sent again."""

Request = tuple[str, Mapping[str, str] | None]
"""A GET: a path below /v1.0 (or a nextLink on the Graph host) and its query parameters."""


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
    """Answers that were 429, 503 or 504 (batched requests included)."""
    _origin: str = field(init=False, default="")
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        parts = urlsplit(self.root)
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET `path` (below /v1.0, or a full nextLink on the same host) and return its JSON object."""
        return self._request(self._url(path), params)

    def _url(self, path: str) -> str:
        url = path if path.startswith("https://") else f"{self._origin}/v1.0/{path.lstrip('/')}"
        if not url.startswith(f"{self._origin}/"):
            raise GraphError(f"Graph sent a paging link to another host ({urlsplit(url).netloc}); not followed")
        return url

    def _request(self, url: str, params: Mapping[str, str] | None,
                 batch: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one request (a GET, or with `batch` the POST of a JSON batch); retry throttling within the deadline."""
        for attempt in range(MAX_RETRIES + 1):
            response = self._send(url, params, batch)
            if response.status_code not in RETRY_STATUSES:
                return self._json(response, url)
            with self._lock:
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

    def get_many(self, requests: Sequence[Request]) -> list[dict[str, Any]]:
        """GET every request through JSON batches and return the answers in order; one request is a plain GET.

        A request Graph throttles inside a batch (429, 503, 504 with Retry-After) goes into a later batch after the
        longest wait asked for, within the retry budget and the deadline.
        """
        if len(requests) <= 1:
            return [self.get(*request) for request in requests]
        answers: list[dict[str, Any] | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        last: Any = None
        for attempt in range(MAX_RETRIES + 1):
            chunks = [pending[i:i + BATCH_SIZE] for i in range(0, len(pending), BATCH_SIZE)]
            with ThreadPoolExecutor(min(IN_FLIGHT, len(chunks))) as pool:
                batches = list(pool.map(lambda chunk: self._batch([(i, requests[i]) for i in chunk]), chunks))
            pending, wait = [], 0.0
            for index, status, headers, body in (answer for batch in batches for answer in batch):
                if status in RETRY_STATUSES:
                    pending.append(index)
                    last = status
                    after = headers.get("Retry-After")
                    wait = max(wait, self._retry_after(None if after is None else str(after), attempt))
                else:
                    answers[index] = self._checked(status, body, self._url(requests[index][0]))
            if not pending:
                return [a for a in answers if a is not None]
            with self._lock:
                self.throttled += len(pending)
            if attempt == MAX_RETRIES or time.monotonic() + wait > self.deadline:
                break
            self.sleep(wait)
        raise GraphError(f"Graph kept answering {last} (throttled) for {len(pending)} batched requests (first: "
                         f"{_path(self._url(requests[pending[0]][0]))}); gave up within the deadline; try again later "
                         "or raise --deadline")

    def get_all_many(self, requests: Sequence[Request]) -> list[list[dict[str, Any]]]:
        """GET every page of each collection, batching first pages, then each round of next pages; items in order."""
        items: list[list[dict[str, Any]]] = [[] for _ in requests]
        current = list(enumerate(requests))
        while current:
            pages = self.get_many([request for _, request in current])
            following: list[tuple[int, Request]] = []
            for (index, _), page in zip(current, pages, strict=True):
                items[index].extend(page.get("value") or [])
                link = page.get("@odata.nextLink")
                if link:
                    following.append((index, (str(link), None)))
            current = following
        return items

    def _batch(self, chunk: Sequence[tuple[int, Request]]) -> list[tuple[int, Any, Mapping[str, str], Any]]:
        """POST one JSON batch of GETs; return (request index, status, headers, body) per request."""
        prefix = f"{self._origin}/v1.0"
        wanted = {str(index): index for index, _ in chunk}
        document = {"requests": [
            {"id": str(index), "method": "GET", "headers": {"ConsistencyLevel": "eventual"},
             "url": self._url(path).removeprefix(prefix) + (f"?{urlencode(params)}" if params else "")}
            for index, (path, params) in chunk]}
        body = self._request(f"{prefix}/$batch", None, document)
        responses = body.get("responses")
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses) or len(responses) != len(
                wanted) or {str(r.get("id")) for r in responses} != set(wanted):
            raise GraphError("POST /v1.0/$batch: Graph's answer does not answer each request once")
        return [(wanted[str(r["id"])], r.get("status"), r.get("headers") if isinstance(r.get("headers"), dict)
                 else {}, r.get("body")) for r in responses]

    def _send(self, url: str, params: Mapping[str, str] | None, batch: Mapping[str, Any] | None = None) -> Any:
        import requests  # noqa: PLC0415 - heavy; `exo-oauth --help` must not load it

        method = "GET" if batch is None else "POST"
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GraphError(f"the run's deadline passed before {method} {_path(url)}; raise --deadline")
        with self._lock:
            self.calls += 1
        headers = {"Authorization": f"Bearer {self.token.reveal()}", "Accept": "application/json",
                   "ConsistencyLevel": "eventual"}
        try:
            if batch is not None:
                # A batch of GETs only (_batch builds it): Graph's way to read many objects in one round trip.
                return self.session.post(url, json=batch, timeout=min(self.timeout, left), headers=headers)
            return self.session.get(url, params=params, timeout=min(self.timeout, left), headers=headers)
        except requests.exceptions.RequestException as error:
            raise GraphError(f"{method} {_path(url)}: {type(error).__name__}: {_reason(error)}") from None

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
        return self._checked(response.status_code, body, url)

    @staticmethod
    def _checked(status: Any, body: Any, url: str) -> dict[str, Any]:
        """Return `body` of a 200 answer that is a JSON object; raise GraphError with Graph's reason otherwise."""
        if status != HTTP_OK or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else "no JSON error"
            hint = (" (the signed-in identity lacks a permission; see docs/adopting.md, \"Permissions\")"
                    if status in (401, 403) else "")
            raise GraphError(f"GET {_path(url)}: HTTP {status}, {detail}{hint}")
        return body


def _path(url: str) -> str:
    """Return the URL's path only: query strings may hold filters, never secrets, but stay short in messages."""
    return urlsplit(url).path
