"""A read-only Microsoft Graph v1.0 client: `@odata.nextLink` paging, bounded 429/503 retries, a deadline, caps.

Every Graph request goes through `GraphClient.send`, which keeps the promises docs/security.md makes for audit and
adopt: nothing waits past the run's deadline, whatever the peer does (an answer, headers and body, is read on a
daemon thread and abandoned at the deadline); no redirect is followed and no request leaves the Graph host the run
was pointed at, so the token goes nowhere else; no answer is larger than MAX_ANSWER_BYTES and no collection longer
than MAX_PAGES pages; and an answer that is not what Graph sends (not JSON, nested too deep, a `value` that is not a
list) is a GraphError of one printable line, never a traceback. Many reads go out as JSON batches (`POST /$batch`
whose requests are all GETs), 20 to a batch and a few batches at once (docs/decisions/0124), through the same `send`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..signin.secret import Secret
from ..signin.session import MAX_TEXT, RefusedRequestError, network_reason
from ..util.text import printable

RETRY_STATUSES = frozenset({429, 503, 504})
"""Graph's throttling and transient answers, which carry Retry-After or may be retried after a back-off."""
MAX_RETRIES = 5
MAX_RETRY_AFTER = 60.0
"""Seconds: a longer Retry-After is waited for at most this long, and only within the run's deadline."""
PAGE_SIZE = 999
HTTP_OK = 200
HTTP_DENIED = (401, 403)
"""Unauthorized and Forbidden: the signed-in identity lacks a permission."""
MAX_ANSWER_BYTES = 32 * 1024 * 1024
"""The largest answer read (after decompression): a full 999-item page of applications is a few megabytes."""
MAX_PAGES = 1000
"""The most pages read of one collection: 999,000 items at PAGE_SIZE, past any tenant's app registrations."""
_CHUNK = 64 * 1024
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
    """Graph could not be read: unreachable, throttled past the deadline, refused, or an answer exo-oauth can't read."""


@dataclass(frozen=True)
class _Answer:
    status: int
    retry_after: str | None
    body: bytes


@dataclass
class GraphClient:
    """Sends JSON requests to one Graph root with one bearer token; counts requests and retries for the bench."""

    root: str
    """`https://graph.microsoft.com` or an override; `/v1.0` is added here."""
    token: Secret
    session: Any
    """A requests.Session from the sign-in module (signin/session.py): no redirects, HTTPS only, `--ca-file`."""
    timeout: float
    """Seconds for each read."""
    deadline: float
    """time.monotonic() after which no request starts, no retry waits and no answer is waited for."""
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0
    """Requests sent, retries included."""
    throttled: int = 0
    """Answers that were 429, 503 or 504."""
    _origin: str = field(init=False, default="")
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        parts = urlsplit(self.root)
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def send(self, method: str, path: str, params: Mapping[str, str] | None = None,
             body: Any = None) -> dict[str, Any]:
        """Send one request and return its JSON object; every Graph request of audit and adopt goes through here.

        `path` is below /v1.0 (`applications`, `$batch`) or a full URL on the same host (a nextLink); `body`, if
        given, is sent as JSON. Safe to call from several threads. Raises GraphError, one printable line.
        """
        url = self._url(path)
        for attempt in range(MAX_RETRIES + 1):
            answer = self._within_deadline(method, url, params, body)
            if answer.status not in RETRY_STATUSES:
                return _json(answer, method, url)
            with self._lock:
                self.throttled += 1
            wait = _retry_after(answer.retry_after, attempt)
            if attempt == MAX_RETRIES or time.monotonic() + wait > self.deadline:
                break
            self.sleep(wait)
        raise GraphError(f"Graph kept answering {answer.status} (throttled) for {_path(url)}; gave up after "
                         f"{attempt + 1} tries within the deadline; try again later or raise --deadline")

    def _url(self, path: str) -> str:
        """Return the full URL of `path`; a link to another host than the run's Graph host is refused."""
        url = path if path.startswith("https://") else f"{self._origin}/v1.0/{path.lstrip('/')}"
        if not url.startswith(f"{self._origin}/"):
            raise GraphError(f"Graph sent a link to another host ({_clip(urlsplit(url).netloc)}); not followed")
        return url

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET `path` (below /v1.0, or a full nextLink on the same host) and return its JSON object."""
        return self.send("GET", path, params)

    def get_all(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """GET every page of a collection, following `@odata.nextLink`, and return all its `value` items."""
        return self.get_all_many([(path, params)])[0]

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
                if isinstance(status, int) and status in RETRY_STATUSES:
                    pending.append(index)
                    last = status
                    after = headers.get("Retry-After")
                    wait = max(wait, _retry_after(None if after is None else str(after), attempt))
                else:
                    answers[index] = _checked(status, body, "GET", self._url(requests[index][0]))
            if not pending:
                return [a for a in answers if a is not None]
            with self._lock:
                self.throttled += len(pending)
            if attempt == MAX_RETRIES or time.monotonic() + wait > self.deadline:
                break
            self.sleep(wait)
        raise GraphError(f"Graph kept answering {_clip(str(last))} (throttled) for {len(pending)} batched requests "
                         f"(first: {_path(self._url(requests[pending[0]][0]))}); gave up within the deadline; try "
                         "again later or raise --deadline")

    def get_all_many(self, requests: Sequence[Request]) -> list[list[dict[str, Any]]]:
        """GET every page of each collection, batching first pages, then each round of next pages; items in order."""
        items: list[list[dict[str, Any]]] = [[] for _ in requests]
        current = list(enumerate(requests))
        for _ in range(MAX_PAGES):
            if not current:
                return items
            pages = self.get_many([request for _, request in current])
            following: list[tuple[int, Request]] = []
            for (index, _), page in zip(current, pages, strict=True):
                path = requests[index][0]  # the collection asked for names it in messages, not a paging link
                items[index].extend(_values(page, path))
                link = page.get("@odata.nextLink")
                if link is None:
                    continue
                if not isinstance(link, str):
                    raise GraphError(f"GET {_path(path)}: @odata.nextLink is not a URL; the answer can't be read")
                following.append((index, (link, None)))
            current = following
        if not current:
            return items
        raise GraphError(f"GET {_path(requests[current[0][0]][0])}: Graph sent more than {MAX_PAGES} pages; stopped "
                         "reading (a tenant this large, or a Graph host that pages without end)")

    def _batch(self, chunk: Sequence[tuple[int, Request]]) -> list[tuple[int, Any, Mapping[str, Any], Any]]:
        """POST one JSON batch of GETs; return (request index, status, headers, body) per request."""
        prefix = f"{self._origin}/v1.0"
        wanted = {str(index): index for index, _ in chunk}
        document = {"requests": [
            {"id": str(index), "method": "GET", "headers": {"ConsistencyLevel": "eventual"},
             "url": self._url(path).removeprefix(prefix) + (f"?{urlencode(params)}" if params else "")}
            for index, (path, params) in chunk]}
        body = self.send("POST", "$batch", body=document)
        responses = body.get("responses")
        if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses) or len(responses) != len(
                wanted) or {str(r.get("id")) for r in responses} != set(wanted):
            raise GraphError("POST /v1.0/$batch: Graph's answer does not answer each request once")
        return [(wanted[str(r["id"])], r.get("status"), r.get("headers") if isinstance(r.get("headers"), dict)
                 else {}, r.get("body")) for r in responses]

    def _within_deadline(self, method: str, url: str, params: Mapping[str, str] | None, body: Any) -> _Answer:
        """Return the answer, read on a daemon thread: requests' timeout bounds each read, not a byte-a-second peer."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GraphError(f"the run's deadline passed before {method} {_path(url)}; raise --deadline")
        with self._lock:
            self.calls += 1
        outcome: list[_Answer | GraphError] = []
        done = threading.Event()

        def exchange() -> None:
            try:
                outcome.append(self._exchange(method, url, params, body))
            except GraphError as error:
                outcome.append(error)
            except Exception as error:
                outcome.append(GraphError(f"{method} {_path(url)}: {type(error).__name__}: "
                                          f"{_clip(str(error))}"))
            finally:
                done.set()

        threading.Thread(target=exchange, name="graph-request", daemon=True).start()
        if not done.wait(left) or not outcome:
            raise GraphError(f"{method} {_path(url)}: no full answer within the run's deadline; raise --deadline "
                             "or try again later")
        if isinstance(outcome[0], GraphError):
            raise outcome[0]
        return outcome[0]

    def _exchange(self, method: str, url: str, params: Mapping[str, str] | None, body: Any) -> _Answer:
        import requests  # noqa: PLC0415 - heavy; `exo-oauth --help` must not load it

        headers = {"Authorization": f"Bearer {self.token.reveal()}", "Accept": "application/json",
                   "ConsistencyLevel": "eventual"}
        try:
            response = self.session.request(method, url, params=params, json=body, headers=headers, stream=True,
                                            timeout=min(self.timeout, max(self.deadline - time.monotonic(), 0.001)))
        except RefusedRequestError as error:
            raise GraphError(f"{method} {_path(url)}: {_clip(str(error))}") from None
        except requests.exceptions.RequestException as error:
            raise GraphError(f"{method} {_path(url)}: {type(error).__name__}: {network_reason(error)}") from None
        try:
            data = bytearray()
            for chunk in response.iter_content(_CHUNK):
                data += chunk
                if len(data) > MAX_ANSWER_BYTES:
                    raise GraphError(f"{method} {_path(url)}: the answer is larger than "
                                     f"{MAX_ANSWER_BYTES // (1024 * 1024)} MB; stopped reading")
            return _Answer(response.status_code, response.headers.get("Retry-After"), bytes(data))
        except requests.exceptions.RequestException as error:
            raise GraphError(f"{method} {_path(url)}: {type(error).__name__}: {network_reason(error)}") from None
        finally:
            response.close()


def _retry_after(header: str | None, attempt: int) -> float:
    """Return the seconds to wait: Retry-After when it is a finite number, else an exponential back-off."""
    try:
        seconds = float(header) if header is not None else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        seconds = 2.0 ** attempt
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _json(answer: _Answer, method: str, url: str) -> dict[str, Any]:
    try:
        body = json.loads(answer.body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than Python's parser goes
        body = None
    return _checked(answer.status, body, method, url)


def _checked(status: Any, body: Any, method: str, url: str) -> dict[str, Any]:
    """Return `body` of a 200 answer (or of one answer in a batch) that is a JSON object; else a GraphError."""
    if status != HTTP_OK or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        detail = (f"{_clip(str(error.get('code')))}: {_clip(str(error.get('message')))}" if isinstance(error, dict)
                  else "no JSON error" if status != HTTP_OK else "the answer is not a JSON object")
        hint = (" (the signed-in identity lacks a permission; see docs/adopting.md, \"Permissions\")"
                if status in HTTP_DENIED else "")
        raise GraphError(f"{method} {_path(url)}: HTTP {_clip(str(status))}, {detail}{hint}")
    return body


def _values(page: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    """Return a collection page's `value`: a list of objects, else a GraphError."""
    value = page.get("value")
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise GraphError(f"GET {_path(path)}: the answer's `value` is not a list of objects; the answer can't be read")
    return value


def _clip(text: str) -> str:
    """Return a peer's text as one printable, short line."""
    return printable(" ".join(text.split()))[:MAX_TEXT]


def _path(url: str) -> str:
    """Return the URL's path only, printable: query strings may hold filters, never secrets, but stay short."""
    return _clip(urlsplit(url).path)
