"""The Graph client: paging stays on the Graph host, throttling waits are bounded by Retry-After and the deadline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from exo_oauth.signin.secret import Secret
from exo_oauth.tenant.graph import BATCH_SIZE, IN_FLIGHT, MAX_PAGES, MAX_RETRY_AFTER, GraphClient, GraphError

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
        assert method == "GET" or url == f"{ROOT}/v1.0/$batch", "audit reads: GETs, and batches of GETs"
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


@dataclass
class BatchGraph:
    """Answers JSON batches: each request from `answer(url)`, responses in reverse order; records batches."""

    answer: Any
    batches: list[list[str]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, method: str, url: str, json: dict[str, Any] | None = None, **_: Any) -> Answer:
        """Answer a single request, which goes out as a plain GET, or one batch."""
        if method == "GET":
            answer = self.answer(url.removeprefix(f"{ROOT}/v1.0"))
            return Answer(answer["status"], answer["body"], answer.get("headers", {}))
        assert (method, url) == ("POST", f"{ROOT}/v1.0/$batch")
        assert json is not None
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.batches.append([r["url"] for r in json["requests"]])
        assert {r["method"] for r in json["requests"]} == {"GET"}
        responses = [{"id": r["id"], **self.answer(r["url"])} for r in reversed(json["requests"])]
        with self.lock:
            self.in_flight -= 1
        return Answer(200, {"responses": responses})


def ok(body: dict[str, Any]) -> dict[str, Any]:
    """Return a 200 answer in a batch."""
    return {"status": 200, "headers": {}, "body": body}


def test_many_reads_go_out_twenty_to_a_batch_a_few_at_once_and_come_back_in_order() -> None:
    """45 GETs are 3 batches (20, 20, 5), at most IN_FLIGHT at once, answered in the order asked."""
    session = BatchGraph(lambda url: ok({"url": url}))
    graph, _ = client(session)  # type: ignore[arg-type]
    paths = [(f"applications/{i}", {"$select": "id"}) for i in range(45)]
    answers = graph.get_many(paths)
    assert [a["url"] for a in answers] == [f"/applications/{i}?%24select=id" for i in range(45)]
    assert sorted(len(b) for b in session.batches) == [5, BATCH_SIZE, BATCH_SIZE]
    assert session.most_in_flight <= IN_FLIGHT
    assert graph.calls == 3


def test_a_throttled_request_in_a_batch_is_sent_again_after_its_retry_after() -> None:
    """Only the 429 request goes into the next batch, after the longest Retry-After it asked for."""
    tries: dict[str, int] = {}

    def answer(url: str) -> dict[str, Any]:
        tries[url] = tries.get(url, 0) + 1
        if url == "/applications/b" and tries[url] == 1:
            return {"status": 429, "headers": {"Retry-After": "3"}, "body": {}}
        return ok({"id": url})

    session = BatchGraph(answer)
    graph, slept = client(session)  # type: ignore[arg-type]
    assert graph.get_many([("applications/a", None), ("applications/b", None), ("applications/c", None)]) == [
        {"id": "/applications/a"}, {"id": "/applications/b"}, {"id": "/applications/c"}]
    assert slept == [3.0]
    assert session.batches[1:] == [["/applications/b"]]
    assert graph.throttled == 1


def test_a_refused_request_in_a_batch_names_graphs_reason() -> None:
    """A 403 inside a batch is the same one-line error as a 403 alone."""
    session = BatchGraph(lambda url: {"status": 403, "headers": {}, "body": {"error": {
        "code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}} if url.endswith("/b")
        else ok({}))
    graph, _ = client(session)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match=r"GET /v1.0/applications/b: HTTP 403, Authorization_RequestDenied"):
        graph.get_many([("applications/a", None), ("applications/b", None)])


@pytest.mark.parametrize("responses", [
    [{"id": "0", "status": 200, "body": {}}],
    [{"id": "0", "status": 200, "body": {}}, {"id": "0", "status": 200, "body": {}}],
], ids=["one missing", "one twice"])
def test_a_batch_answer_that_does_not_answer_each_request_once_is_refused(responses: list[dict[str, Any]]) -> None:
    """A missing answer, or one request answered twice, is one line, not a wrong inventory."""
    session = Session([Answer(200, {"responses": responses})])
    graph, _ = client(session)
    with pytest.raises(GraphError, match="does not answer each request once"):
        graph.get_many([("applications/a", None), ("applications/b", None)])


def test_next_pages_of_many_collections_are_batched_and_stay_on_the_graph_host() -> None:
    """Second pages go out in the next batch; a next link to another host is refused."""
    def answer(url: str) -> dict[str, Any]:
        if "skiptoken" in url:
            return ok({"value": [{"id": url}]})
        return ok({"value": [{"id": url}], "@odata.nextLink": f"{ROOT}/v1.0{url}?$skiptoken=2"})

    session = BatchGraph(answer)
    graph, _ = client(session)  # type: ignore[arg-type]
    pages = graph.get_all_many([("applications/a/owners", None), ("applications/b/owners", None)])
    assert [len(p) for p in pages] == [2, 2]
    assert session.batches[1] == ["/applications/a/owners?$skiptoken=2", "/applications/b/owners?$skiptoken=2"]
    evil = BatchGraph(lambda url: ok({"value": [], "@odata.nextLink": "https://evil.example/v1.0/x"}))
    graph, _ = client(evil)  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="another host"):
        graph.get_all_many([("a", None), ("b", None)])

