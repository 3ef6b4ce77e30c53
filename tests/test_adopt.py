"""`exo-oauth adopt` against the Graph stand-in: the stack plans cleanly and the import file takes over every object.

So the first `pulumi up` creates only the new secret and its rotation clock.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from exo_oauth.cli import main
from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.offline import plan_stack
from standins.graph_tenant import BLOG, CORRECT, DEFAULT_OWNER, FULL_ACCESS, MULTI, OWNER, oid, write_export
from standins.mailservers import pki
from tests.graph_fixtures import Graph, graph_fixture, tls_fixture, tokens_fixture  # noqa: F401 - the stand-ins
from tests.stack_factory import project


def adopt(graph: Graph, folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    """Run adopt with the Exchange export and a default owner; return status and the JSON review."""
    export = write_export(graph.graph.state.data, folder / "export.json")
    status = main(["adopt", *graph.args(), "--stack", "adopted", "--project-dir", str(folder), "--exchange-export",
                   str(export), "--default-owner", DEFAULT_OWNER, "--format", "json", *extra])
    out = capsys.readouterr()
    assert str(graph.auditor.secret) not in out.out + out.err
    return status, json.loads(out.out) if out.out else {}


def test_adopt_writes_a_stack_that_plans_and_imports_every_existing_object(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every planned resource of an adopted app is imported once with the tenant's id, except the new secret."""
    folder = project(tmp_path)
    status, review = adopt(graph, folder, capsys)
    assert status == 1
    stack = load_stack(folder, "adopted")
    apps = {a.display_name: a for a in stack.config.apps}
    assert set(apps) == {CORRECT, BLOG, MULTI}
    assert apps[CORRECT].flow == "app-only"
    assert apps[CORRECT].protocols == ("imap", "smtp")
    assert [(m.address, m.send_as) for m in apps[CORRECT].mailboxes] == [("scanner@contoso.example", True)]
    assert apps[CORRECT].owners == (OWNER,)
    assert apps[BLOG].flow == "delegated"
    assert apps[BLOG].owners == (DEFAULT_OWNER,)
    assert apps[BLOG].redirect_uris == ()
    assert apps[MULTI].credential.type == "federated"

    plan = plan_stack(folder, stack, datetime.now(UTC))
    imports = json.loads((folder / "stacks" / "adopted.import.json").read_text(encoding="utf-8"))["resources"]
    planned = {(r["type"], r["name"]): r for r in plan.resources}
    imported = {(i["type"], i["name"]): i for i in imports}
    assert len(imported) == len(imports)
    assert set(imported) <= set(planned)
    created = {key for key in planned if key not in imported}
    blog_grant = ("azuread:index/servicePrincipalDelegatedPermissionGrant:ServicePrincipalDelegatedPermissionGrant",
                  f"{apps[BLOG].name}-grant-exchange")
    # Only new secrets with their schedule's anchor (docs/decisions/0140), and the Exchange Online grant the
    # blog-made app never had (its mail scopes were on Graph).
    assert {t.rsplit(":", 1)[-1] for t, _ in created - {blog_grant}} <= {"ApplicationPassword", "Static"}
    assert blog_grant in created
    assert set(review["creates"]) == {n for _, n in created}
    assert any(t.endswith(":ApplicationPassword") and n.startswith(f"{apps[CORRECT].name}-secret-")
               for t, n in created)

    name = apps[CORRECT].name
    ids = {n: i.get("id") for (_, n), i in imported.items()}
    data = graph.graph.state.data
    exo_sp = oid("sp", "Office365ExchangeOnline")
    assert ids[name] is None
    assert ids[f"{name}-app"] == f"/applications/{oid('app', CORRECT)}"
    assert ids[f"{name}-sp"] == f"/servicePrincipals/{oid('sp', CORRECT)}"
    assignments = {a["id"] for a in data.appRoleAssignments if a["principalId"] == oid("sp", CORRECT)}
    assert {ids[f"{name}-role-imap"], ids[f"{name}-role-smtp"]} == {
        f"/servicePrincipals/{exo_sp}/appRoleAssignedTo/{a}" for a in assignments}
    multi = apps[MULTI].name
    assert ids[f"{multi}-federated"] == f"{oid('app', MULTI)}/federatedIdentityCredential/{oid('fic', MULTI)}"
    blog = apps[BLOG].name
    assert ids[f"{blog}-grant"] == f"/oauth2PermissionGrants/{oid('grant', oid('sp', BLOG), 'MicrosoftGraph')}"
    assert all(i.get("parent") in {a.name for a in stack.config.apps} for i in imports if "id" in i)


def test_adopt_reports_the_new_secret_and_what_pulumi_up_changes(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The review names the skipped app, the new secrets, and the Graph scopes `pulumi up` replaces."""
    _, review = adopt(graph, project(tmp_path), capsys)
    codes = {(f["code"], f["object"].split("'")[1]) for f in review["findings"] if "'" in f["object"]}
    assert ("adopt-skipped", FULL_ACCESS) in codes
    assert ("adopt-new-secret", CORRECT) in codes
    assert ("graph-mail-scope", BLOG) in codes
    assert all(f["pulumiUp"] for f in review["findings"])


@pytest.mark.parametrize("name", ["Pulumi.adopted.yaml", "adopted.import.json"])
def test_adopt_refuses_to_overwrite_without_force(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    """An existing stack file or import file stays as it is, with exit 2 and no Graph call; --force replaces it."""
    folder = project(tmp_path)
    existing = folder / "stacks" / name
    existing.write_text("{}\n", encoding="utf-8")
    before = graph.graph.requests()["GET"]
    status, _ = adopt(graph, folder, capsys)
    assert status == 2
    assert existing.read_text(encoding="utf-8") == "{}\n"
    assert graph.graph.requests()["GET"] == before
    assert [p.name for p in (folder / "stacks").iterdir()] == [name]
    status, _ = adopt(graph, folder, capsys, "--force")
    assert status == 1
    assert "exo-oauth:apps" in yaml.safe_load((folder / "stacks" / "Pulumi.adopted.yaml").read_text(
        encoding="utf-8"))["config"]
    assert json.loads((folder / "stacks" / "adopted.import.json").read_text(encoding="utf-8"))["resources"]


def test_adopt_never_writes_to_the_tenant(graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only GET requests reach Graph."""
    adopt(graph, project(tmp_path), capsys)
    assert set(graph.graph.requests()) == {"GET"}


def test_plan_of_the_adopted_stack_shows_each_import(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`exo-oauth plan` reads the import file: text marks imported objects with `=` and their id, JSON has `import`."""
    folder = project(tmp_path)
    adopt(graph, folder, capsys)
    assert main(["plan", "--stack", "adopted", "--project-dir", str(folder)]) == 0
    text = capsys.readouterr().out
    assert f"(import /applications/{oid('app', CORRECT)})" in text
    assert "to import (stacks/adopted.import.json)" in text
    assert "      + ApplicationPassword" in text
    assert main(["plan", "--stack", "adopted", "--project-dir", str(folder), "--format", "json"]) == 0
    resources = json.loads(capsys.readouterr().out)["stacks"][0]["resources"]
    imports = {r["name"]: r.get("import") for r in resources}
    assert imports["scanner-sp"] == f"/servicePrincipals/{oid('sp', CORRECT)}"


def test_a_broken_import_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     graph: Graph) -> None:
    """The plan refuses an import file it cannot read, with exit 2."""
    folder = project(tmp_path)
    adopt(graph, folder, capsys)
    (folder / "stacks" / "adopted.import.json").write_text("{\"resources\": 3}", encoding="utf-8")
    assert main(["plan", "--stack", "adopted", "--project-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "adopted.import.json: resources: missing or not a list" in err
    assert len(err.strip().splitlines()) == 1


def test_a_certificate_is_adopted_with_its_public_key_and_imported(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Graph gives a certificate's key only for one object; adopt fetches it, writes the PEM and imports the key id."""
    data = graph.graph.state.data
    certificate = pki.self_signed(pki.rsa_key(), "printer")
    der = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")
    correct = next(a for a in data.applications if a["displayName"] == CORRECT)
    correct["passwordCredentials"] = []
    correct["keyCredentials"] = [{"customKeyIdentifier": None, "displayName": "CN=printer", "key": der,
                                  "keyId": oid("cert", "printer"), "type": "AsymmetricX509Cert", "usage": "Verify",
                                  "startDateTime": "2026-01-01T00:00:00Z", "endDateTime": "2099-01-01T00:00:00Z"}]
    folder = project(tmp_path)
    adopt(graph, folder, capsys)
    app = next(a for a in load_stack(folder, "adopted").config.apps if a.display_name == CORRECT)
    assert app.credential.type == "certificate"
    assert app.credential.public_key_pem == certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    imports = json.loads((folder / "stacks" / "adopted.import.json").read_text(encoding="utf-8"))["resources"]
    assert {"type": "azuread:index/applicationCertificate:ApplicationCertificate", "name": f"{app.name}-cert",
            "id": f"{oid('app', CORRECT)}/certificate/{oid('cert', 'printer')}", "parent": app.name} in imports
    assert any(p.endswith("?%24select=keyCredentials") for p in graph.graph.paths())


@pytest.mark.parametrize(("flags", "message"), [
    (["--default-owner", "nobody"], "--default-owner 'nobody': not a GUID"),
    (["--organization", "not a domain"], "--organization 'not a domain': not the tenant's initial domain"),
    (["--organization", "contoso.com"], "allowed: its *.onmicrosoft.com domain"),
    (["--stack", "../x"], "is not a stack name"),
])
def test_bad_adopt_flags_exit_2_before_signing_in(graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  flags: list[str], message: str) -> None:
    """Bad flags are one line, no Graph call, nothing written."""
    folder = project(tmp_path)
    before = graph.graph.requests()["GET"]
    status = main(["adopt", *graph.args(), "--stack", "adopted", "--project-dir", str(folder), *flags])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert graph.graph.requests()["GET"] == before
    assert list((folder / "stacks").iterdir()) == []


def test_a_missing_consent_is_created_and_reported(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A requested but unconsented role is created by `pulumi up`; an undeclared full_access_as_app is left alone.

    The EWS daemon requests IMAP.AccessAsApp without consent and holds full_access_as_app.
    """
    folder = project(tmp_path)
    export = write_export(graph.graph.state.data, folder / "export.json")
    document = json.loads(export.read_text(encoding="utf-8"))
    document["mailboxPermissions"].append({"mailbox": "archive@contoso.example",
                                           "principalObjectId": oid("sp", FULL_ACCESS), "rights": ["FullAccess"]})
    export.write_text(json.dumps(document), encoding="utf-8")
    status = main(["adopt", *graph.args(), "--stack", "adopted", "--project-dir", str(folder), "--exchange-export",
                   str(export), "--format", "json"])
    review = json.loads(capsys.readouterr().out)
    assert status == 1
    daemon = next(a for a in load_stack(folder, "adopted").config.apps if a.display_name == FULL_ACCESS)
    assert (daemon.flow, daemon.protocols) == ("app-only", ("imap",))
    assert f"{daemon.name}-role-imap" in review["creates"]
    assert {"code": "adopt-not-imported", "object": f"resource {daemon.name}-role-imap",
            "detail": "azuread:index/appRoleAssignment:AppRoleAssignment",
            "pulumiUp": "creates the object"} in review["findings"]
    full = [f for f in review["findings"] if f["code"] == "full-access-as-app"]
    assert full
    assert "stays until revoked by hand" in full[0]["pulumiUp"]
    assert not any(i.get("id", "").endswith(oid("assignment", oid("sp", FULL_ACCESS), "full_access_as_app"))
                   for i in review["imports"])


@pytest.mark.parametrize("appearing", ["Pulumi.adopted.yaml", "adopted.import.json"])
def test_a_file_that_appears_during_the_graph_read_is_never_overwritten(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        appearing: str) -> None:
    """Files are created exclusively: one written by someone else meanwhile stays, and adopt writes neither."""
    from exo_oauth.tenant import adopt_run  # noqa: PLC0415

    folder = project(tmp_path)
    read = adopt_run.survey

    def survey_then_write(*args: Any, **kwargs: Any) -> Any:
        result = read(*args, **kwargs)
        (folder / "stacks" / appearing).write_text("theirs\n", encoding="utf-8")
        return result

    monkeypatch.setattr(adopt_run, "survey", survey_then_write)
    status, _ = adopt(graph, folder, capsys)
    assert status == 2
    assert sorted(p.name for p in (folder / "stacks").iterdir()) == [appearing]
    assert (folder / "stacks" / appearing).read_text(encoding="utf-8") == "theirs\n"


def test_adopt_writes_display_names_exactly(graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A NEL, U+2028 or U+2029 in a display name survives the stack file, so `pulumi up` renames nothing."""
    folder = project(tmp_path)
    export = write_export(graph.graph.state.data, folder / "export.json")
    correct = next(a for a in graph.graph.state.data.applications if a["displayName"] == CORRECT)
    correct["displayName"] = exact = "Scanner\x85floor\u20282\u2029east"
    assert main(["adopt", *graph.args(), "--stack", "adopted", "--project-dir", str(folder), "--exchange-export",
                 str(export), "--default-owner", DEFAULT_OWNER]) == 1
    stack = load_stack(folder, "adopted")
    assert exact in {a.display_name for a in stack.config.apps}
    plan = plan_stack(folder, stack, datetime.now(UTC))
    assert exact in {r["inputs"].get("displayName") for r in plan.resources}


def test_adopt_without_a_program_stops_before_reading_the_tenant(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --project-dir with no __main__.py is one line and exit 2, with no Graph call and nothing written."""
    folder = project(tmp_path)
    (folder / "__main__.py").unlink()
    before = graph.graph.requests()["GET"]
    status = main(["adopt", *graph.args(), "--stack", "adopted", "--project-dir", str(folder)])
    err = capsys.readouterr().err
    assert status == 2
    assert "no __main__.py there" in err
    assert len(err.strip().splitlines()) == 1
    assert graph.graph.requests()["GET"] == before
    assert list((folder / "stacks").iterdir()) == []


def test_an_app_with_more_owners_than_graph_expands_keeps_them_all(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Graph expands at most 20 owners without a next link: an app showing 20 has its owners read in full."""
    data = graph.graph.state.data
    correct = next(a for a in data.applications if a["displayName"] == CORRECT)
    owners = [f"0ab1e5e5-0000-4000-8000-{i:012d}" for i in range(25)]
    data.owners[correct["id"]] = [{"@odata.type": "#microsoft.graph.user", "id": o} for o in owners]
    folder = project(tmp_path)
    adopt(graph, folder, capsys)
    app = next(a for a in load_stack(folder, "adopted").config.apps if a.display_name == CORRECT)
    assert app.owners == tuple(owners)
    assert any(p.startswith(f"/v1.0/applications/{correct['id']}/owners") for p in graph.graph.paths())
