"""The Graph client: paging stays on the Graph host, throttling waits are bounded by Retry-After and the deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from exo_oauth.signin.secret import Secret
from exo_oauth.tenant.graph import MAX_PAGES, MAX_RETRY_AFTER, GraphClient, GraphError

ROOT = "https://graph.example"


@dataclass
class Answer:
    """A canned response: a JSON value, or raw bytes."""

    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def iter_content(self, size: int) -> Iterator[bytes]:
        """Yield the body in chunks of `size` bytes, as requests' streamed response does."""
        data = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        for start in range(0, len(data), size):
            yield data[start:start + size]

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Session:
    """Answers GETs from a list, recording the URLs."""

    answers: list[Answer]
    urls: list[str] = field(default_factory=list)

    def request(self, method: str, url: str, **_: Any) -> Answer:
        """Record the URL; return the next answer."""
        assert method == "GET"
        self.urls.append(url)
        return self.answers.pop(0)


def client(session: Session, deadline: float = 60.0) -> tuple[GraphClient, list[float]]:
    """Return a client whose sleeps are recorded, not slept."""
    slept: list[float] = []
    return GraphClient(ROOT, Secret("token"), session, 5.0, time.monotonic() + deadline, sleep=slept.append), slept


def test_paging_link_to_another_host_is_not_followed() -> None:
    """A nextLink off the Graph host would carry the token elsewhere: refused."""
    session = Session([Answer(200, {"value": [{"id": "1"}], "@odata.nextLink": "https://evil.example/v1.0/x"})])
    graph, _ = client(session)
    with pytest.raises(GraphError, match="another host"):
        graph.get_all("applications")
    assert session.urls == [f"{ROOT}/v1.0/applications"]


def test_retry_after_is_honoured_and_capped() -> None:
    """429 waits Retry-After seconds (at most MAX_RETRY_AFTER), then the same request is sent again."""
    session = Session([Answer(429, {}, {"Retry-After": "7"}), Answer(429, {}, {"Retry-After": "100000"}),
                       Answer(200, {"value": [{"id": "1"}]})])
    graph, slept = client(session, deadline=600)
    assert graph.get_all("applications") == [{"id": "1"}]
    assert slept == [7.0, MAX_RETRY_AFTER]
    assert graph.calls == 3
    assert graph.throttled == 2


def test_a_wait_past_the_deadline_gives_up_without_sleeping() -> None:
    """Retry-After beyond the run's deadline: fail now, naming the status."""
    session = Session([Answer(429, {}, {"Retry-After": "30"})])
    graph, slept = client(session, deadline=5)
    with pytest.raises(GraphError, match="429"):
        graph.get("applications")
    assert slept == []


def test_refusal_names_graphs_error_and_the_permission_hint() -> None:
    """403 shows Graph's code and message and points at the permissions section."""
    session = Session([Answer(403, {"error": {"code": "Authorization_RequestDenied",
                                              "message": "Insufficient privileges to complete the operation."}})])
    graph, _ = client(session)
    with pytest.raises(GraphError, match=r"HTTP 403, Authorization_RequestDenied: Insufficient.*Permissions"):
        graph.get("applications")


@pytest.mark.parametrize("header", ["nan", "inf", "-inf", "1e999", "Wed, 21 Oct 2015 07:28:00 GMT", "-3"])
def test_a_retry_after_that_is_no_finite_number_of_seconds_backs_off_instead(header: str) -> None:
    """Retry-After that is not a finite number falls back to the exponential back-off; never a NaN sleep."""
    session = Session([Answer(429, {}, {"Retry-After": header}), Answer(200, {"value": []})])
    graph, slept = client(session)
    assert graph.get_all("applications") == []
    assert slept == ([0.0] if header == "-3" else [1.0])


def test_paging_stops_at_the_page_cap_with_a_clear_message() -> None:
    """A Graph host that always sends a next link is read for MAX_PAGES pages, then the read stops, named."""
    page = Answer(200, {"value": [{"id": "1"}], "@odata.nextLink": f"{ROOT}/v1.0/applications?$skiptoken=x"})
    session = Session([page] * (MAX_PAGES + 1))
    graph, _ = client(session)
    with pytest.raises(GraphError, match=f"more than {MAX_PAGES} pages; stopped reading"):
        graph.get_all("applications")
    assert graph.calls == MAX_PAGES
