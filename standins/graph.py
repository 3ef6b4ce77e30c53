"""A local HTTPS stand-in for Microsoft Graph v1.0, for `audit` and `adopt` tests and the bench.

It serves what those commands read, in the response shapes of Microsoft's Graph v1.0 reference examples:
applications (with owners and federatedIdentityCredentials), servicePrincipals (with appRoleAssignedTo and
appRoleAssignments) and
oauth2PermissionGrants; collections with `@odata.context`, `value` and `@odata.nextLink` (an opaque `$skiptoken`),
`$select`, `$top`, and `$filter` of the form `<property> eq '<value>'` on appId, clientId, resourceId and id, or
`id in ('<value>', ...)` with at most 15 values; `$expand=owners` on applications, with Graph's documented limits of
directory-object expansion: at most 20 expanded objects and no paging of them (Graph known issue 13635), and at most
100 items a page (3P: the page size Graph uses with `$expand`).
`POST /v1.0/$batch` answers JSON batches of at most 20 requests (https://learn.microsoft.com/graph/json-batching),
each request answered, throttled and recorded as if it came alone.
Only tokens the test token server issued are accepted. Any other write, and any request in a batch but GET, is refused
with 405 and recorded, so a test can assert that a command never tried to write. `throttle(n, seconds)` answers the
next n requests (batched ones too) with 429 and Retry-After, as Graph does when throttling. `latency` seconds are
waited before each answer, as a Graph far away would take; connections are kept alive (HTTP/1.1).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from standins.mailservers.https import HttpsServer, JsonHandler
from standins.mailservers.pki import ServerTLS
from standins.mailservers.token_server import TokenServer

_FILTER = re.compile(r"(appId|clientId|resourceId|id) eq '([0-9A-Za-z-]*)'")
_IN = re.compile(r"id in \(('[0-9A-Za-z-]+'(?:,'[0-9A-Za-z-]+'){0,14})\)")
"""Graph's `in` filter, at most 15 values."""
COLLECTIONS = ("applications", "servicePrincipals", "oauth2PermissionGrants")
BATCH_MAX = 20
EXPAND_MAX = 20
EXPAND_PAGE = 100


@dataclass
class GraphData:
    """The directory the stand-in serves: plain Graph-shaped dicts."""

    applications: list[dict[str, Any]] = field(default_factory=list)
    servicePrincipals: list[dict[str, Any]] = field(default_factory=list)  # noqa: N815 - Graph's collection name
    oauth2PermissionGrants: list[dict[str, Any]] = field(default_factory=list)  # noqa: N815
    appRoleAssignments: list[dict[str, Any]] = field(default_factory=list)  # noqa: N815
    owners: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Owners by application object id."""
    federated: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Federated identity credentials by application object id."""


@dataclass
class _State:
    data: GraphData
    tokens: TokenServer
    page_size: int
    base_url: str = ""
    methods: Counter[str] = field(default_factory=Counter)
    paths: list[str] = field(default_factory=list)
    throttle_left: int = 0
    retry_after: str = "0"
    latency: float = 0.0
    round_trips: int = 0
    batches: list[int] = field(default_factory=list)
    """The number of requests in each batch."""
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(JsonHandler):
    server_version = "exo-oauth-test-graph"
    content_type = "application/json;odata.metadata=minimal"
    protocol_version = "HTTP/1.1"
    captured: list[tuple[int, Any, dict[str, str]]] | None = None
    """While a batch is answered: each request's answer, instead of sending it."""

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if self.captured is not None:
            self.captured.append((status, body, headers or {}))
        else:
            self.send_json(status, body, headers)

    @property
    def state(self) -> _State:
        state: _State = self.server.state  # type: ignore[attr-defined]
        return state

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._reply(status, {"error": {"code": code, "message": message,
                                   "innerError": {"request-id": "00000000-0000-0000-0000-000000000000"}}}, headers)

    def _arrive(self) -> bytes:
        """Count the round trip, read the request's body, and wait the stand-in's latency."""
        with self.state.lock:
            self.state.round_trips += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.state.latency:
            time.sleep(self.state.latency)
        return body

    def _refuse_write(self, method: str | None = None) -> None:
        with self.state.lock:
            self.state.methods[method or self.command] += 1
        self._error(405, "Request_BadRequest", f"the Graph stand-in is read-only; {method or self.command} refused")

    def do_PATCH(self) -> None:
        """Refuse a write."""
        self._arrive()
        self._refuse_write()

    do_PUT = do_DELETE = do_PATCH

    def do_POST(self) -> None:
        """Answer a JSON batch of reads; refuse any other POST."""
        body = self._arrive()
        if urlsplit(self.path).path != "/v1.0/$batch":
            self._refuse_write()
            return
        if not self._authorized():
            return
        requests = json.loads(body or b"{}").get("requests") or []
        if not 0 < len(requests) <= BATCH_MAX:
            self._error(400, "BadRequest", f"A batch holds 1 to {BATCH_MAX} requests, not {len(requests)}.")
            return
        with self.state.lock:
            self.state.batches.append(len(requests))
        answers = []
        for request in requests:
            self.captured = []
            if request.get("method") != "GET":
                self._refuse_write(str(request.get("method")))
            else:
                self._read("/v1.0" + str(request.get("url")))
            (status, answer, headers), self.captured = self.captured[0], None
            answers.append({"id": request.get("id"), "status": status, "headers": headers, "body": answer})
        self.send_json(200, {"responses": answers})

    def do_GET(self) -> None:
        """Answer one Graph v1.0 read."""
        self._arrive()
        if self._authorized():
            self._read(self.path)

    def _authorized(self) -> bool:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if not token or token not in self.state.tokens.issued_tokens():
            self._error(401, "InvalidAuthenticationToken", "Access token validation failure.")
            return False
        return True

    def _read(self, path: str) -> None:
        state = self.state
        with state.lock:
            state.methods["GET"] += 1
            state.paths.append(path)
            throttled = state.throttle_left > 0
            state.throttle_left -= throttled
        if throttled:
            self._error(429, "TooManyRequests", "Too many requests", {"Retry-After": state.retry_after})
            return
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[0] != "v1.0" or len(parts) < 2:
            self._error(404, "Request_ResourceNotFound", f"Resource not found for the segment '{url.path}'.")
            return
        try:
            self._route(parts[1:], query)
        except LookupError as missing:
            self._error(404, "Request_ResourceNotFound", f"Resource '{missing}' does not exist.")
        except ValueError as bad:
            self._error(400, "Request_UnsupportedQuery", str(bad))

    def _route(self, parts: list[str], query: dict[str, str]) -> None:
        data = self.state.data
        if len(parts) == 1 and parts[0] in COLLECTIONS:
            self._collection(parts[0], getattr(data, parts[0]), query)
        elif len(parts) == 2 and parts[0] in ("applications", "servicePrincipals"):
            item = next((i for i in getattr(data, parts[0]) if i["id"] == parts[1]), None)
            if item is None:
                raise LookupError(parts[1])
            self._reply(200, {"@odata.context": f"{self._origin()}/v1.0/$metadata#{parts[0]}/$entity"}
                        | _select(item, query))
        elif len(parts) == 3 and parts[0] == "applications" and parts[2] in ("owners", "federatedIdentityCredentials"):
            if not any(a["id"] == parts[1] for a in data.applications):
                raise LookupError(parts[1])
            table = data.owners if parts[2] == "owners" else data.federated
            self._collection("/".join(parts), table.get(parts[1], []), query)
        elif len(parts) == 3 and parts[0] == "servicePrincipals" and parts[2] == "appRoleAssignments":
            # The assignments granted TO the principal (its application permissions), by principalId.
            if not any(s["id"] == parts[1] for s in data.servicePrincipals):
                raise LookupError(parts[1])
            self._collection("/".join(parts), [a for a in data.appRoleAssignments if a["principalId"] == parts[1]],
                             query)
        elif len(parts) == 3 and parts[0] == "servicePrincipals" and parts[2] == "appRoleAssignedTo":
            if not any(s["id"] == parts[1] for s in data.servicePrincipals):
                raise LookupError(parts[1])
            self._collection("/".join(parts), [a for a in data.appRoleAssignments if a["resourceId"] == parts[1]],
                             query)
        else:
            raise LookupError("/".join(parts))

    def _origin(self) -> str:
        return self.state.base_url

    def _collection(self, name: str, items: list[dict[str, Any]], query: dict[str, str]) -> None:
        if "$filter" in query:
            match, within = _FILTER.fullmatch(query["$filter"]), _IN.fullmatch(query["$filter"])
            if within is not None:
                wanted = {v.strip("'").lower() for v in within[1].split(",")}
                items = [i for i in items if str(i.get("id", "")).lower() in wanted]
            elif match is not None:
                items = [i for i in items if str(i.get(match[1], "")).lower() == match[2].lower()]
            else:
                raise ValueError(f"Unsupported or invalid query filter clause: {query['$filter']}")
        expand = query.get("$expand")
        if expand not in (None, "owners") or (expand and name != "applications"):
            raise ValueError(f"Unsupported $expand: {expand}")
        top = min(int(query.get("$top", self.state.page_size)), self.state.page_size,
                  EXPAND_PAGE if expand else self.state.page_size)
        start = int(query.get("$skiptoken", "0"))
        page = items[start:start + top]
        owners = self.state.data.owners
        body: dict[str, Any] = {"@odata.context": f"{self._origin()}/v1.0/$metadata#{name}",
                                "value": [_listed(i, query) | ({"owners": owners.get(i["id"], [])[:EXPAND_MAX]}
                                                               if expand else {}) for i in page]}
        if start + top < len(items):
            following = dict(query) | {"$skiptoken": str(start + top)}
            body["@odata.nextLink"] = f"{self._origin()}/v1.0/{name}?{urlencode(following)}"
        self._reply(200, body)


def _listed(item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Return an item as a collection shows it: a keyCredential's `key` only comes with a single object."""
    shown = _select(item, query)
    if "keyCredentials" in shown:
        shown["keyCredentials"] = [c | {"key": None} for c in shown["keyCredentials"]]
    return shown


def _select(item: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    if "$select" not in query:
        return dict(item)
    wanted = query["$select"].split(",")
    return {k: v for k, v in item.items() if k in wanted or k.startswith("@odata.")}


class GraphStandin:
    """The stand-in on 127.0.0.1 and a free port, with TLS from the test CA."""

    def __init__(self, tls: ServerTLS, tokens: TokenServer, data: GraphData, page_size: int = 100,
                 latency: float = 0.0) -> None:
        self.state = _State(data, tokens, page_size, latency=latency)
        self._https = HttpsServer(tls, _Handler, self.state, "graph-standin")
        self.state.base_url = self._https.origin
        self._https.start()

    @property
    def url(self) -> str:
        """The Graph host, for `--graph-host`."""
        return self.state.base_url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._https.stop()

    def throttle(self, count: int, retry_after: str = "0") -> None:
        """Answer the next `count` requests with 429 Too Many Requests and this Retry-After."""
        with self.state.lock:
            self.state.throttle_left, self.state.retry_after = count, retry_after

    def requests(self) -> Counter[str]:
        """Return how many requests of each HTTP method arrived."""
        with self.state.lock:
            return Counter(self.state.methods)

    def paths(self) -> list[str]:
        """Return every GET's path and query (batched ones too), in order."""
        with self.state.lock:
            return list(self.state.paths)

    def round_trips(self) -> int:
        """Return how many HTTP requests arrived (a batch is one)."""
        with self.state.lock:
            return self.state.round_trips

    def batch_sizes(self) -> list[int]:
        """Return the number of requests in each batch that arrived."""
        with self.state.lock:
            return list(self.state.batches)
