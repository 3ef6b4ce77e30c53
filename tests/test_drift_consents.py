"""`exo-oauth drift --checks consents`: consents on a deployed app that the stack does not declare, read from Graph.

Against the local Graph stand-in (Graph v1.0 response shapes), signed in as a read-only auditor app, as audit is.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.cli import main
from standins.graph import GraphData, GraphStandin
from standins.graph_tenant import EXO, GRAPH, Builder, _first_party
from standins.mailservers import pki
from standins.mailservers.token_server import App, TokenServer
from tests.graph_fixtures import SECRET_VAR, tls_fixture, tokens_fixture  # noqa: F401 - fixtures
from tests.outputs_factory import deployed_outputs, real_looking
from tests.stack_factory import PROJECT

CONTOSO_TENANT = "3f2a6c1e-8d4b-4f7a-9c2e-5b1d0e7f6a48"


@pytest.fixture(name="tenant")
def tenant_fixture(tmp_path: Path) -> dict[str, Any]:
    """Return contoso's deployed-looking outputs, saved, with its apps' service principals to plant in Graph."""
    outputs = real_looking(deployed_outputs("contoso"))
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return {"outputs": outputs, "path": path}


def serve(tls: pki.ServerTLS, tokens: TokenServer, outputs: dict[str, Any], extra: bool,
          monkeypatch: pytest.MonkeyPatch) -> GraphStandin:
    """Serve the stack's apps as deployed (their declared consents), plus, with `extra`, two added in the portal."""
    data = GraphData(servicePrincipals=[_first_party(GRAPH), _first_party(EXO)])
    builder = Builder(data, datetime.now(UTC))
    for app in outputs["apps"].values():
        sp = {"id": app["servicePrincipalObjectId"], "appId": app["clientId"], "displayName": app["displayName"]}
        data.servicePrincipals.append(sp)
        for permission in app["permissions"]:
            builder.assign(sp, EXO, permission["name"])
    if extra:
        scanners = data.servicePrincipals[2 + list(outputs["apps"]).index("scanners")]
        builder.assign(scanners, EXO, "full_access_as_app")
        builder.grant(scanners, GRAPH, ["Mail.Read"])
    auditor = tokens.register(App(client_id=str(uuid.uuid4()), tenant_id=CONTOSO_TENANT,
                                  secret=f"s3cr3t~{uuid.uuid4().hex}"))
    monkeypatch.setenv(SECRET_VAR, auditor.secret)
    standin = GraphStandin(tls, tokens, data, page_size=2)
    standin.auditor = auditor  # type: ignore[attr-defined]
    return standin


def drift(tenant: dict[str, Any], standin: GraphStandin, tls: pki.ServerTLS, tokens: TokenServer) -> int:
    """Run the consents check of the example stack contoso; return the exit status."""
    argv = ["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--outputs", str(tenant["path"]),
            "--format", "json", "--graph-client-id", standin.auditor.client_id,  # type: ignore[attr-defined]
            "--graph-secret-env", SECRET_VAR, "--authority-host", tokens.url, "--graph-host", standin.url,
            "--ca-file", str(tls.ca_file), "--checks", "consents"]
    return main(argv)


def test_an_application_permission_and_a_delegated_grant_added_in_the_portal_are_drift(
        tls: pki.ServerTLS, tokens: TokenServer, tenant: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """full_access_as_app and Graph Mail.Read on scanners, not in the stack, are named; exit is the drift status."""
    standin = serve(tls, tokens, tenant["outputs"], True, monkeypatch)
    try:
        status = drift(tenant, standin, tls, tokens)
    finally:
        standin.stop()
    report = json.loads(capsys.readouterr().out)
    check = report["checks"][0]
    assert (status, check["check"], check["status"]) == (5, "consents", "drift")
    assert "app scanners: application permission Office365ExchangeOnline full_access_as_app" in check["detail"]
    assert "app scanners: delegated permission MicrosoftGraph Mail.Read" in check["detail"]
    assert "helpdesk" not in check["detail"]
    assert set(standin.requests()) == {"GET"}


def test_declared_consents_only_are_clean(
        tls: pki.ServerTLS, tokens: TokenServer, tenant: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The roles the stack grants, and nothing else, are no drift."""
    standin = serve(tls, tokens, tenant["outputs"], False, monkeypatch)
    try:
        status = drift(tenant, standin, tls, tokens)
    finally:
        standin.stop()
    check = json.loads(capsys.readouterr().out)["checks"][0]
    assert (status, check["status"]) == (0, "clean")


def test_without_a_graph_sign_in_the_consents_check_is_not_run_and_not_in_the_default_set(
        tenant: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """Asked for without --graph-client-id it says why (exit 4); the default checks leave it out."""
    argv = ["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--outputs", str(tenant["path"]),
            "--format", "json"]
    assert main([*argv, "--checks", "consents"]) == 4
    check = json.loads(capsys.readouterr().out)["checks"][0]
    assert check["status"] == "not run"
    assert "--graph-client-id with --graph-secret-env" in check["detail"]
    main(argv)
    assert "consents" not in {c["check"] for c in json.loads(capsys.readouterr().out)["checks"]}

