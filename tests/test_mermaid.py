import html
import json
import re
from typing import Any

import pytest

from exo_oauth.plan.render import MAX_GRAPHS, render_markdown
from exo_oauth.review.access_diff import render_markdown as diff_markdown
from exo_oauth.review.access_diff import stack_entry
from exo_oauth.review.mermaid import ADDED, REMOVED, SAME, access_graph, label, render
from tests.mermaid_parse import mermaid_parse

HOSTILE = ['a "quoted" name', "x]; click n0 call alert(1) %%", "<script>alert(1)</script>", "#quot; & #35;",
           "`markdown` **bold**", "line\nbreak", "o'brien@contoso.com", "end", "(round) {curly} [square]"]


def app(name: str, *, flow: str = "app-only", permissions: tuple[str, ...] = ("SMTP.SendAsApp",),
        mailboxes: tuple[tuple[str, bool], ...] = (("box@contoso.com", False),), display: str = "") -> dict[str, Any]:
    """Return one app's `apps` output entry, as much of it as the graph reads."""
    return {"name": name, "displayName": display or name, "flow": flow,
            "permissions": [{"api": "Office365ExchangeOnline", "name": p, "id": f"id-of-{p}"} for p in permissions],
            "mailboxes": [{"address": a, "sendAs": s} for a, s in mailboxes], "credential": {"type": "none"}}


def mermaid_blocks(markdown: str) -> list[str]:
    """Return the source of every ```mermaid fence."""
    return re.findall(r"```mermaid\n(.*?)```", markdown, re.DOTALL)


def shown(quoted: str) -> str:
    """Return what Mermaid shows for a quoted label: entity codes (#quot;, #35;) decoded."""
    assert quoted[0] == quoted[-1] == '"'
    assert '"' not in quoted[1:-1]
    return html.unescape(re.sub(r"#(\w+);", lambda m: f"&{'#' if m.group(1).isdigit() else ''}{m.group(1)};",
                                quoted[1:-1]))


@pytest.mark.parametrize("text", HOSTILE)
def test_label_shows_user_text_exactly_inside_one_quoted_string(text: str) -> None:
    """Quotes, brackets, HTML and Mermaid syntax in user data stay one quoted label that reads back as the text."""
    assert shown(label(text)) == text.replace("\n", " ")


def test_real_mermaid_parser_accepts_graphs_with_hostile_names_and_rejects_a_broken_one() -> None:
    """mermaid.parse accepts a graph whose every label is hostile; an unquoted `@` label fails (the checker works)."""
    apps = {f"app{i}": app(f"app{i}", display=text, mailboxes=((f"{text}@contoso.com", True),))
            for i, text in enumerate(HOSTILE)}
    broken = "flowchart LR\n  C[scanner@contoso.com]\n"
    graphs = [render(access_graph({}, apps)), render(access_graph(apps, {})), broken]
    results = mermaid_parse(graphs)
    assert [r["ok"] for r in results] == [True, True, False], results
    assert results[0]["type"] == "flowchart-v2"


def test_diff_graph_marks_added_and_removed_edges_and_keeps_the_rest() -> None:
    """A new mailbox right is added, a dropped permission removed, the untouched chain stays unmarked."""
    base = {"scanners": app("scanners", permissions=("SMTP.SendAsApp", "IMAP.AccessAsApp"))}
    head = {"scanners": app("scanners", mailboxes=(("box@contoso.com", True),))}
    graph = access_graph(base, head)
    names = {node.key: node.text for node in graph.nodes}
    marked = {(names[e.source], names[e.target], e.text, e.status) for e in graph.edges if e.status != SAME}
    assert marked == {
        ("Exchange service principal of scanners", "box@contoso.com", "SendAs", ADDED),
        ("scanners (app-only)", "Office 365 Exchange Online: IMAP.AccessAsApp", "", REMOVED),
        ("Office 365 Exchange Online: IMAP.AccessAsApp", "Exchange service principal of scanners", "", REMOVED),
    }
    assert sum(e.status == SAME for e in graph.edges) == 3


def test_link_styles_colour_exactly_the_marked_edges() -> None:
    """Each linkStyle index points at an edge labelled added (green) or removed (red, dashed), and no other."""
    base = {"a": app("a"), "gone": app("gone")}
    head = {"a": app("a", mailboxes=(("box@contoso.com", False), ("new@contoso.com", False)))}
    source = render(access_graph(base, head))
    edges = [line for line in source.splitlines() if " --> " in line or "-->|" in line]
    styles = dict(re.findall(r"linkStyle (\d+) (\S+)", source))
    for index, edge in enumerate(edges):
        status = "added" if "added" in edge else "removed" if "removed" in edge else None
        assert (str(index) in styles) == (status is not None), edge
        if status == "added":
            assert styles[str(index)].startswith("stroke:#1a7f37")
        if status == "removed":
            assert "stroke-dasharray" in styles[str(index)]


def test_plan_and_diff_markdown_carry_one_graph_per_tenant_that_mermaid_parses() -> None:
    """The plan draws each planned tenant; the diff draws each tenant that changed, none for an unchanged one."""
    plans = [{"stack": s, "tenantId": "t", "resources": [], "policy": [],
              "outputs": {"apps": {"a": app("a") | {"protocols": ["smtp"]}}}}
             for s in ("one", "two")]
    plan_graphs = mermaid_blocks(render_markdown(plans))
    entries = [stack_entry("changed", {"a": app("a")}, {"a": app("a", permissions=("POP.AccessAsApp",))}),
               stack_entry("added", None, {"b": app("b", flow="delegated", mailboxes=())}),
               stack_entry("same", {"a": app("a")}, {"a": app("a")})]
    diff_graphs = mermaid_blocks(diff_markdown("main", entries))
    assert (len(plan_graphs), len(diff_graphs)) == (2, 2)
    assert all(r["ok"] for r in mermaid_parse(plan_graphs + diff_graphs))
    assert json.loads(json.dumps(entries))[2] == {"stack": "same", "status": "unchanged", "changes": []}


def test_plan_of_many_stacks_draws_no_graphs_and_says_where_they_are() -> None:
    """Past MAX_GRAPHS stacks the plan leaves graphs out (comment size) and points at `exo-oauth diff`."""
    plans = [{"stack": f"s{i}", "tenantId": "t", "resources": [], "policy": [],
              "outputs": {"apps": {"a": app("a") | {"protocols": ["smtp"]}}}} for i in range(MAX_GRAPHS + 1)]
    markdown = render_markdown(plans)
    assert mermaid_blocks(markdown) == []
    assert f"_No access graphs: {MAX_GRAPHS + 1} stacks are more than {MAX_GRAPHS}; `exo-oauth diff` draws" in markdown
    assert len(mermaid_blocks(render_markdown(plans[:MAX_GRAPHS]))) == MAX_GRAPHS
