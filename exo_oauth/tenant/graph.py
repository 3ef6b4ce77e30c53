"""A read-only Microsoft Graph v1.0 client: `@odata.nextLink` paging, bounded 429/503 retries, a deadline, caps.

Every Graph request goes through `GraphClient.send`, which keeps the promises docs/security.md makes for audit and
adopt: nothing waits past the run's deadline, whatever the peer does (an answer, headers and body, is read on a
daemon thread and abandoned at the deadline); no redirect is followed and no request leaves the Graph host the run
was pointed at, so the token goes nowhere else; no answer is larger than MAX_ANSWER_BYTES and no collection longer
than MAX_PAGES pages; and an answer that is not what Graph sends (not JSON, nested too deep, a `value` that is not a
list) is a GraphError of one printable line, never a traceback.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..signin.secret import Secret
from ..signin.session import MAX_TEXT, RefusedRequestError, network_reason
from ..text import printable

RETRY_STATUSES = frozenset({429, 503, 504})
"""Graph's throttling and transient answers, which carry Retry-After or may be retried after a back-off."""
MAX_RETRIES = 5
MAX_RETRY_AFTER = 60.0
"""Seconds: a longer Retry-After is waited for at most this long, and only within the run's deadline."""
PAGE_SIZE = 999
HTTP_OK = 200
MAX_ANSWER_BYTES = 32 * 1024 * 1024
"""The largest answer read (after decompression): a full 999-item page of applications is a few megabytes."""
MAX_PAGES = 1000
"""The most pages read of one collection: 999,000 items at PAGE_SIZE, past any tenant's app registrations."""
_CHUNK = 64 * 1024


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
        url = path if path.startswith("https://") else f"{self._origin}/v1.0/{path.lstrip('/')}"
        if not url.startswith(f"{self._origin}/"):
            raise GraphError(f"Graph sent a link to another host ({_clip(urlsplit(url).netloc)}); not followed")
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

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """GET `path` (below /v1.0, or a full nextLink on the same host) and return its JSON object."""
        return self.send("GET", path, params)

    def get_all(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """GET every page of a collection, following `@odata.nextLink`, and return all its `value` items."""
        items: list[dict[str, Any]] = []
        link: str | None = None
        for _ in range(MAX_PAGES):
            page = self.get(link) if link is not None else self.get(path, params)
            items.extend(_values(page, path))
            following = page.get("@odata.nextLink")
            if following is None:
                return items
            if not isinstance(following, str):
                raise GraphError(f"GET {_path(path)}: @odata.nextLink is not a URL; the answer can't be read")
            link = following
        raise GraphError(f"GET {_path(path)}: Graph sent more than {MAX_PAGES} pages; stopped reading (a tenant this "
                         "large, or a Graph host that pages without end)")

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
    if answer.status != HTTP_OK or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        detail = (f"{_clip(str(error.get('code')))}: {_clip(str(error.get('message')))}" if isinstance(error, dict)
                  else "no JSON error" if answer.status != HTTP_OK else "the answer is not a JSON object")
        hint = (" (the signed-in identity lacks a permission; see docs/adopting.md, \"Permissions\")"
                if answer.status in (401, 403) else "")
        raise GraphError(f"{method} {_path(url)}: HTTP {answer.status}, {detail}{hint}")
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
