"""`exo-oauth audit` against the local Graph stand-in: every planted mistake is named, and nothing is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exo_domain.exit_codes import ExitCode
from exo_oauth.cli import main
from exo_oauth.tenant.findings import RULES
from exo_oauth.tenant.signin import GRAPH_COMMAND_LINE_TOOLS
from standins.graph_tenant import BLOG, CORRECT, FULL_ACCESS, MULTI, TENANT, fleet, planted, write_export
from standins.mailservers import pki
from standins.mailservers.token_server import App, TokenServer
from tests.graph_fixtures import SECRET_VAR, Graph, graph_fixture, start, tls_fixture, tokens_fixture  # noqa: F401 - fixtures


def audit_json(graph: Graph, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, object]]:
    """Run `audit --format json`; check no secret or token was printed; return status and report."""
    status = main(["audit", *graph.args(), "--format", "json", *extra])
    out = capsys.readouterr()
    assert str(graph.auditor.secret) not in out.out + out.err
    for token in graph.tokens.issued_tokens():
        assert token not in out.out + out.err
    return status, json.loads(out.out)


def by_app(report: dict[str, object]) -> dict[str, set[str]]:
    """Return the finding codes by the display name in each finding's object."""
    found: dict[str, set[str]] = {}
    for finding in report["findings"]:  # type: ignore[attr-defined]
        found.setdefault(finding["object"].split("'")[1], set()).add(finding["code"])
    return found


def test_audit_names_each_planted_mistake_and_nothing_on_the_correct_app(
        graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit names each planted mistake and nothing on the correct app."""
    status, report = audit_json(graph, capsys)
    found = by_app(report)
    assert status == 1
    assert CORRECT not in found
    assert "HR portal" not in found
    assert found[BLOG] == {"graph-mail-scope", "extra-permission", "credential-too-long", "insecure-redirect",
                           "no-owners"}
    assert found[FULL_ACCESS] == {"full-access-as-app", "graph-mail-permission", "credential-expiring",
                                  "requested-not-consented", "consented-not-requested"}
    assert found[MULTI] == {"multi-tenant", "credential-expired"}


def test_audit_reads_only_with_get(graph: Graph, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Audit reads only with get."""
    audit_json(graph, capsys, "--exchange-export", str(write_export(graph.graph.state.data, tmp_path / "x.json")))
    methods = graph.graph.requests()
    assert set(methods) == {"GET"}
    assert methods["GET"] > 0


def test_audit_follows_paging_links(graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit follows paging links."""
    audit_json(graph, capsys)
    assert any("%24skiptoken=" in p or "$skiptoken=" in p for p in graph.graph.paths())


def test_audit_waits_out_throttling(graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit waits out throttling."""
    graph.graph.throttle(3, retry_after="0")
    status, report = audit_json(graph, capsys)
    assert status == 1
    assert CORRECT not in by_app(report)
    assert BLOG in by_app(report)


def test_audit_gives_up_when_throttled_past_the_retry_budget(
        graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit gives up when throttled past the retry budget."""
    graph.graph.throttle(1000, retry_after="0")
    status = main(["audit", *graph.args()])
    err = capsys.readouterr().err
    assert status == 4
    assert "429" in err
    assert len(err.strip().splitlines()) == 1


def test_exchange_export_findings(graph: Graph, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Exchange export findings."""
    export = write_export(graph.graph.state.data, tmp_path / "export.json")
    _, report = audit_json(graph, capsys, "--exchange-export", str(export))
    codes = {(f["code"], f["object"].split("'")[1]) for f in report["findings"]  # type: ignore[attr-defined]
             if "'" in f["object"]}
    assert ("exchange-sp-app-object-id", BLOG) in codes
    assert ("exchange-sp-unknown-app", "Old scanner") in codes
    orphans = [f for f in report["findings"] if f["code"] == "exchange-orphan-permission"]  # type: ignore[attr-defined]
    assert [f["object"] for f in orphans] == ["mailbox old-scans@contoso.example"]


def test_a_clean_tenant_exits_0(tls: pki.ServerTLS, tokens: TokenServer, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean tenant exits 0."""
    data = planted(datetime.now(UTC))
    keep = {a["id"] for a in data.applications if a["displayName"] in (CORRECT, "HR portal")}
    data.applications = [a for a in data.applications if a["id"] in keep]
    kept_apps = {a["appId"] for a in data.applications} | {s["appId"] for s in data.servicePrincipals[:2]}
    data.servicePrincipals = [s for s in data.servicePrincipals if s["appId"] in kept_apps]
    kept_sps = {s["id"] for s in data.servicePrincipals}
    data.oauth2PermissionGrants = [g for g in data.oauth2PermissionGrants if g["clientId"] in kept_sps]
    data.appRoleAssignments = [a for a in data.appRoleAssignments if a["principalId"] in kept_sps]
    standin = start(tls, tokens, data)
    try:
        monkeypatch.setenv(SECRET_VAR, standin.auditor.secret)  # type: ignore[attr-defined]
        graph = Graph(tokens, standin, tls, standin.auditor)  # type: ignore[attr-defined]
        status = main(["audit", *graph.args(), "--format", "markdown"])
    finally:
        standin.stop()
    assert status == 0
    assert "No findings." in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_text_and_markdown_name_code_object_and_fix(graph: Graph, capsys: pytest.CaptureFixture[str],
                                                    fmt: str) -> None:
    """Text and markdown name code object and fix."""
    main(["audit", *graph.args(), "--format", fmt])
    out = capsys.readouterr().out
    assert "graph-mail-scope" in out
    assert BLOG in out
    assert RULES["graph-mail-scope"].fix.split(":")[0] in out


def test_unknown_graph_host_fails_in_one_line(graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown graph host fails in one line."""
    args = graph.args()
    args[args.index("--graph-host") + 1] = "https://127.0.0.1:9"
    assert main(["audit", *args]) == 4
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_an_admin_signs_in_with_device_code(graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a credential, audit signs in as Graph Command Line Tools with device code; the prompt goes to stderr."""
    graph.tokens.register(App(client_id=GRAPH_COMMAND_LINE_TOOLS, tenant_id=TENANT, public_client=True,
                              scopes=("Application.Read.All", "Directory.Read.All")))
    args = graph.args()
    for flag in ("--client-id", "--secret-env"):
        del args[args.index(flag):args.index(flag) + 2]
    status = main(["audit", *args, "--format", "json"])
    out = capsys.readouterr()
    assert status == 1
    assert "To sign in, use a web browser" in out.err
    assert BLOG in out.out


@pytest.mark.parametrize(("flags", "message"), [
    (["--tenant", "contoso"], "--tenant: not a GUID (the value is not repeated"),
    (["--timeout", "0"], "--timeout 0.0: allowed"),
    (["--deadline", "100000"], "--deadline 100000.0: allowed"),
    (["--graph-host", "http://127.0.0.1:1"], "--graph-host 'http://127.0.0.1:1': allowed: https://"),
    (["--max-days", "0"], "--max-days 0: allowed"),
])
def test_bad_audit_flags_exit_2_without_a_request(graph: Graph, capsys: pytest.CaptureFixture[str],
                                                  flags: list[str], message: str) -> None:
    """Bad flags are one line on stderr, exit 2, and no request reaches Graph."""
    args = graph.args()
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    status = main(["audit", *args])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert graph.graph.requests()["GET"] == 0


def test_twenty_correct_apps_are_read_in_batches_with_principals_fifteen_per_request(
        tls: pki.ServerTLS, tokens: TokenServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Principals holding consent are read with `id in (...)`, 15 per request, and a fleet of right apps is clean."""
    standin = start(tls, tokens, fleet(datetime.now(UTC), 20), page_size=999)
    try:
        monkeypatch.setenv(SECRET_VAR, standin.auditor.secret)  # type: ignore[attr-defined]
        graph = Graph(tokens, standin, tls, standin.auditor)  # type: ignore[attr-defined]
        status, report = audit_json(graph, capsys)
    finally:
        standin.stop()
    assert status == 0
    in_filters = [p for p in standin.paths() if "id+in+" in p or "id%20in%20" in p]
    assert len(in_filters) == 2
    # One round trip each: a batch of the 2 first-party principals, of their 4 consent collections, of the 2 `in`
    # filters, the applications page with owners expanded, and a batch of the 20 apps' federated credentials.
    assert report["graphCalls"] == standin.round_trips() == 5
    assert standin.batch_sizes() == [2, 4, 2, 20]


def test_a_credential_end_date_without_a_zone_is_read_as_utc(graph: Graph, capsys: pytest.CaptureFixture[str]) -> None:
    """Graph times without `Z` are UTC (exo_oauth/util/days.py), so the expired certificate is still found, no crash."""
    for application in graph.graph.state.data.applications:
        for credential in application["keyCredentials"] + application["passwordCredentials"]:
            credential["startDateTime"] = credential["startDateTime"].rstrip("Z")
            credential["endDateTime"] = credential["endDateTime"].rstrip("Z")
    status, report = audit_json(graph, capsys)
    assert status == 1
    assert "credential-expired" in by_app(report)[MULTI]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_terminal_escapes_and_line_breaks_from_graph_never_reach_the_output(
        graph: Graph, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """Display names, sign-in audiences, redirect URIs and key ids are printed printable: no escape, CR or LF."""
    hostile = "\x1b[2J\x1b]0;pwned\x07\r\nfix: nothing\x9b31m"
    for app in graph.graph.state.data.applications:
        app["displayName"] += hostile
        app["signInAudience"] = "AzureADMultipleOrgs" + hostile
        for section in ("web", "publicClient", "spa"):
            if app.get(section):
                app[section]["redirectUris"] = [u + hostile for u in app[section].get("redirectUris") or []]
        for credential in app.get("passwordCredentials") or []:
            credential["keyId"] = str(credential["keyId"]) + hostile
    status = main(["audit", *graph.args(), "--format", fmt])
    out = capsys.readouterr().out
    assert status == ExitCode.FAILED
    assert "pwned" in out
    assert not any(c in out for c in "\x1b\x07\r\x9b")
    assert not any(line.lstrip().startswith("fix: nothing") for line in out.splitlines())
