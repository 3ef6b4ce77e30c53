"""Draw a tenant's access as a Mermaid flowchart: app -> permissions -> Exchange service principal -> mailboxes.

Pure: the `apps` stack outputs of a base and a head (plain dicts) in, a graph and its Mermaid text out. Edges only
in the head are marked added (green, labelled "added"), edges only in the base removed (red, dashed, labelled
"removed"). Node ids are generated (n0, n1, ...); user data (names, addresses) only ever appears inside a quoted
label, escaped by `label`. GitHub renders ```` ```mermaid ```` blocks in pull-request comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exo_domain.exchange_actions import mailbox_rights

from ..util.microsoft_ids import API_DISPLAY_NAMES

Apps = Mapping[str, Mapping[str, Any]]
Key = tuple[str, ...]
EdgeKey = tuple[Key, Key, str]

ADDED, REMOVED, SAME = "added", "removed", "same"
_STYLE = {ADDED: "stroke:#1a7f37,stroke-width:3px", REMOVED: "stroke:#cf222e,stroke-width:3px,stroke-dasharray:6 4"}
_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;"}
_SPECIAL = re.compile(r"[#\"<>&`]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
LEGEND = "Green edges are access this change adds; red dashed edges are access it removes."


def label(text: Any) -> str:
    """Return `text` as a quoted Mermaid label that shows exactly it.

    `"` and the characters Mermaid or HTML treat specially become entity codes; line breaks become spaces.
    """
    flat = _CONTROL.sub(" ", str(text))
    return '"' + _SPECIAL.sub(lambda m: _ENTITIES[m.group(0)], flat) + '"'


@dataclass(frozen=True)
class Node:
    """One box: `key` identifies it across base and head; `text` is its label (user data, quoted when drawn)."""

    key: Key
    text: str


@dataclass(frozen=True)
class Edge:
    """One arrow between two node keys, with an optional label and its status: added, removed or same."""

    source: Key
    target: Key
    text: str
    status: str


@dataclass(frozen=True)
class Graph:
    """A tenant's access graph."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @property
    def changed(self) -> bool:
        """Whether any edge is added or removed."""
        return any(edge.status != SAME for edge in self.edges)


def _app_graph(name: str, app: Mapping[str, Any]) -> tuple[list[Node], list[EdgeKey]]:
    """Return one app's nodes and its edges as (source key, target key, edge text)."""
    app_key = ("app", name)
    display = app.get("displayName") or name
    nodes = [Node(app_key, f"{name}: {display} ({app.get('flow', '')})" if display != name else
                  f"{name} ({app.get('flow', '')})")]
    edges: list[EdgeKey] = []
    target: Key
    if app.get("flow") == "app-only":
        target = ("sp", name)
        nodes.append(Node(target, f"Exchange service principal of {name}"))
    else:
        target = ("users",)
        nodes.append(Node(target, "signed-in users' own mailboxes"))
    for permission in app.get("permissions", []):
        api = API_DISPLAY_NAMES.get(permission.get("api", ""), permission.get("api", ""))
        key = ("permission", name, api, permission.get("name", ""))
        nodes.append(Node(key, f"{api}: {permission.get('name', '')}"))
        edges += [(app_key, key, ""), (key, target, "")]
    if app.get("flow") == "app-only":
        for mailbox in app.get("mailboxes", []):
            address = str(mailbox.get("address", ""))
            box = ("mailbox", address.lower())
            nodes.append(Node(box, address))
            rights = mailbox_rights(app.get("exchangeAccess"), bool(mailbox.get("sendAs")))
            edges += [(target, box, right) for right in rights]
    return nodes, edges


def access_graph(base: Apps | None, head: Apps | None) -> Graph:
    """Return the graph of `head`'s access, with what `base` had and `head` lacks marked removed.

    `base=None` (a plan, or a new stack) marks nothing: every edge is `same`. `head=None` (a removed stack) marks
    every edge removed. Apps come in name order, each as app -> permissions -> service principal -> mailboxes.
    """
    nodes: dict[Key, Node] = {}
    edges: dict[EdgeKey, str] = {}
    old, new = base or {}, head or {}
    for name in sorted({*old, *new}):
        old_nodes, old_edges = _app_graph(name, old[name]) if name in old else ([], [])
        new_nodes, new_edges = _app_graph(name, new[name]) if name in new else ([], [])
        for node in [*new_nodes, *old_nodes]:
            nodes.setdefault(node.key, node)
        for key in new_edges:
            edges.setdefault(key, SAME if base is None or key in old_edges else ADDED)
        for key in old_edges:
            edges.setdefault(key, REMOVED)
    return Graph(tuple(nodes.values()), tuple(Edge(*key, status) for key, status in edges.items()))


def render(graph: Graph) -> str:
    """Return the Mermaid flowchart source (without the ``` fence)."""
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    lines += [f"  {ids[node.key]}[{label(node.text)}]" for node in graph.nodes]
    styles = []
    for index, edge in enumerate(graph.edges):
        text = " ".join(t for t in (edge.text, "" if edge.status == SAME else edge.status) if t)
        arrow = f"-->|{label(text)}|" if text else "-->"
        lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
        if edge.status in _STYLE:
            styles.append(f"  linkStyle {index} {_STYLE[edge.status]}")
    return "\n".join(lines + styles) + "\n"


def markdown_block(graph: Graph) -> list[str]:
    """Return the graph as markdown lines: a ```` ```mermaid ```` fence, and the legend when something changed."""
    return fenced(render(graph), legend=graph.changed)


def fenced(source: str, *, legend: bool) -> list[str]:
    """Return Mermaid source as markdown lines in a ```` ```mermaid ```` fence, with LEGEND below if `legend`."""
    lines = ["```mermaid", *source.splitlines(), "```"]
    return [*lines, "", LEGEND] if legend else lines
