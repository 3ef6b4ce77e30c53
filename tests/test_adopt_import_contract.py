"""adopt's import file against the provider's importers and `pulumi import`'s parser, ported from their source.

The tenant holds secret, certificate, federated and delegated apps, two apps whose resource names collide, and an
app limited to assigned users. Every import id must pass the azuread provider's importer, the whole file must pass
`parseImportFile`, and every URN it builds must be one the program registers, or the first `pulumi up` would
create a new object and delete the imported one (tests/import_contract.py names the sources and commits).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from exo_domain.config import PROJECT
from exo_oauth.cli import main
from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.offline import plan_stack
from standins.graph_tenant import CORRECT, DEFAULT_OWNER, EXO, FULL_ACCESS, MULTI, Builder, oid, write_export
from standins.mailservers import pki
from tests.graph_fixtures import Graph, graph_fixture, tls_fixture, tokens_fixture  # noqa: F401 - the stand-ins
from tests.import_contract import IMPORTERS, ImportFileError, import_urns
from tests.stack_factory import project

LOBBY, LOBBY_APP, ASSIGNED = "Lobby scanner", "Lobby scanner app", "Front desk mail"
STACK = "adopted"


def plant(graph: Graph) -> dict[str, str]:
    """Add the colliding apps, an assignment-required delegated app and a certificate; return mailbox by app."""
    data = graph.graph.state.data
    b = Builder(data, datetime.now(UTC))
    boxes = {}
    for name in (LOBBY, LOBBY_APP):
        sp = b.principal(b.app(name, [(EXO, "Role", "IMAP.AccessAsApp")], secret_days=(-1, 90)))
        b.assign(sp, EXO, "IMAP.AccessAsApp")
        boxes[sp["id"]] = f"{name.lower().replace(' ', '-')}@contoso.example"
    front = b.principal(b.app(ASSIGNED, [(EXO, "Scope", "IMAP.AccessAsUser.All")], public=("http://localhost",)))
    front["appRoleAssignmentRequired"] = True
    b.grant(front, EXO, ["IMAP.AccessAsUser.All"])
    certificate = pki.self_signed(pki.rsa_key(), "printer")
    correct = next(a for a in data.applications if a["displayName"] == CORRECT)
    correct["passwordCredentials"] = []
    correct["keyCredentials"] = [{
        "customKeyIdentifier": None, "displayName": "CN=printer", "keyId": oid("cert", "printer"),
        "key": base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii"),
        "type": "AsymmetricX509Cert", "usage": "Verify", "startDateTime": "2026-01-01T00:00:00Z",
        "endDateTime": "2099-01-01T00:00:00Z"}]
    return boxes


def adopted(graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str],
            *flags: str) -> tuple[Path, dict[str, Any]]:
    """Adopt the planted tenant plus plant()'s apps, with their mailboxes in the export; return folder and review.

    The EWS daemon gets a mailbox too, so it is adopted with its full_access_as_app and Graph Mail.Read.
    """
    boxes = plant(graph) | {oid("sp", FULL_ACCESS): "archive@contoso.example"}
    folder = project(tmp_path)
    export = write_export(graph.graph.state.data, folder / "export.json")
    document = json.loads(export.read_text(encoding="utf-8"))
    document["mailboxPermissions"] += [{"mailbox": box, "principalObjectId": sp, "rights": ["FullAccess"]}
                                       for sp, box in boxes.items()]
    export.write_text(json.dumps(document), encoding="utf-8")
    status = main(["adopt", *graph.args(), "--stack", STACK, "--project-dir", str(folder), "--exchange-export",
                   str(export), "--default-owner", DEFAULT_OWNER, "--format", "json", *flags])
    out = capsys.readouterr()
    assert status == 1, out.err
    return folder, json.loads(out.out)


def test_every_import_id_passes_the_providers_importer(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each entry's id is one its type's importer accepts; a service principal's is `/servicePrincipals/{id}`."""
    folder, _ = adopted(graph, tmp_path, capsys)
    document = json.loads((folder / "stacks" / f"{STACK}.import.json").read_text(encoding="utf-8"))
    entries = [e for e in document["resources"] if not e.get("component")]
    assert {e["type"] for e in entries} == set(IMPORTERS)
    refused = [(e["type"], e["id"]) for e in entries if not IMPORTERS[e["type"]](e["id"])]
    assert refused == []


@pytest.mark.parametrize(("kind", "value"), [
    ("azuread:index/servicePrincipal:ServicePrincipal", "498a995c-df40-52d4-8cf1-117dc17f786d"),
    ("azuread:index/application:Application", "/Applications/498a995c-df40-52d4-8cf1-117dc17f786d"),
    ("azuread:index/appRoleAssignment:AppRoleAssignment", "/servicePrincipals/x/appRoleAssignedTo/"),
    ("azuread:index/applicationCertificate:ApplicationCertificate",
     "/applications/498a995c-df40-52d4-8cf1-117dc17f786d/certificate/498a995c-df40-52d4-8cf1-117dc17f786d"),
    ("azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
     "498a995c-df40-52d4-8cf1-117dc17f786d/federatedIdentityCredentials/498a995c-df40-52d4-8cf1-117dc17f786d"),
])
def test_the_ported_importers_refuse_what_the_provider_refuses(kind: str, value: str) -> None:
    """A bare GUID for a service principal (the SDK docstring's stale example), a wrong case, a missing segment."""
    assert not IMPORTERS[kind](value)


def test_the_import_file_passes_pulumis_parser_with_the_programs_urns(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unique names, known parents, and every URN one the program registers for that type, colliding names too."""
    folder, _ = adopted(graph, tmp_path, capsys)
    document = json.loads((folder / "stacks" / f"{STACK}.import.json").read_text(encoding="utf-8"))
    urns = import_urns(document, STACK, PROJECT)
    plan = plan_stack(folder, load_stack(folder, STACK), datetime.now(UTC))
    registered = {r["urn"]: r["type"] for r in plan.resources}
    assert {urns[e["name"]]: e["type"] for e in document["resources"]}.items() <= registered.items()
    names = {a.display_name: a.name for a in load_stack(folder, STACK).config.apps}
    lobby, lobby_app = names[LOBBY], names[LOBBY_APP]
    assert f"{lobby}-app" == lobby_app
    renamed = next(e for e in document["resources"] if e.get("logicalName") == lobby_app)
    assert renamed["type"] == "azuread:index/application:Application"
    assert renamed["parent"] == lobby


def test_the_ported_parser_refuses_names_that_collide(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without `logicalName`, the app `lobby-scanner-app` and the child of `lobby-scanner` make an ambiguous parent."""
    folder, _ = adopted(graph, tmp_path, capsys)
    document = json.loads((folder / "stacks" / f"{STACK}.import.json").read_text(encoding="utf-8"))
    for entry in document["resources"]:
        entry["name"] = entry.pop("logicalName", entry["name"])
    with pytest.raises(ImportFileError, match="has an ambiguous parent"):
        import_urns(document, STACK, PROJECT)


def test_the_first_up_keeps_what_forces_a_replacement_or_widens_sign_in(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The federated credential keeps its name, assignment stays required, and the certificate says replaced."""
    folder, review = adopted(graph, tmp_path, capsys)
    plan = plan_stack(folder, load_stack(folder, STACK), datetime.now(UTC))
    inputs = {r["name"]: r for r in plan.resources}
    names = {a.display_name: a.name for a in load_stack(folder, STACK).config.apps}
    federated = inputs[f"{names[MULTI]}-federated"]
    assert federated["inputs"]["displayName"] == "github-main"
    assert "import" in federated
    assert inputs[f"{names[ASSIGNED]}-sp"]["inputs"]["appRoleAssignmentRequired"] is True
    assert inputs[f"{names[CORRECT]}-sp"]["inputs"]["appRoleAssignmentRequired"] is False
    certificate = inputs[f"{names[CORRECT]}-cert"]
    assert certificate["replaceAfterImport"] is True
    codes = {(f["code"], f["object"].split("'")[1]) for f in review["findings"] if "'" in f["object"]}
    assert {("adopt-certificate-replaced", CORRECT), ("adopt-assignment-required", ASSIGNED)} <= codes
    assert ("adopt-certificate-replaced", MULTI) not in codes
    assert main(["plan", "--stack", STACK, "--project-dir", str(folder)]) == 0
    text = capsys.readouterr().out
    line = next(t for t in text.splitlines() if t.strip().startswith("+- ApplicationCertificate"))
    assert line.endswith(f"(import {certificate['import']}, then replaced)")


def test_revoke_excess_lists_undeclared_consents_for_the_first_up_to_delete(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each excess consent is an entry whose URN the program never registers, so `pulumi up` deletes it, by name."""
    folder, review = adopted(graph, tmp_path, capsys, "--revoke-excess")
    document = json.loads((folder / "stacks" / f"{STACK}.import.json").read_text(encoding="utf-8"))
    urns = import_urns(document, STACK, PROJECT)
    registered = {r["urn"] for r in plan_stack(folder, load_stack(folder, STACK), datetime.now(UTC)).resources}
    deleted = {e["name"]: e for e in document["resources"] if urns[e["name"]] not in registered}
    daemon = next(a.name for a in load_stack(folder, STACK).config.apps if a.display_name == FULL_ACCESS)
    sp = oid("sp", FULL_ACCESS)
    assert {n: e["id"] for n, e in deleted.items()} == {
        f"{daemon}-revoke-full-access-as-app":
            f"/servicePrincipals/{oid('sp', EXO)}/appRoleAssignedTo/{oid('assignment', sp, 'full_access_as_app')}",
        f"{daemon}-revoke-mail-read":
            f"/servicePrincipals/{oid('sp', 'MicrosoftGraph')}/appRoleAssignedTo/{oid('assignment', sp, 'Mail.Read')}",
    }
    assert all(IMPORTERS[e["type"]](e["id"]) and e["parent"] == daemon for e in deleted.values())
    revoked = [f for f in review["findings"] if f["code"] == "adopt-revoked"]
    assert sorted(f["detail"].rsplit(" ", 1)[-1] for f in revoked) == sorted(deleted)
    assert all(f["pulumiUp"].startswith("deletes it") for f in revoked)
    assert main(["plan", "--stack", STACK, "--project-dir", str(folder)]) == 0
    text = capsys.readouterr().out
    shown = {line.split()[2]: line for line in text.splitlines() if line.strip().startswith("- ")}
    assert set(shown) == set(deleted)
    assert all(line.endswith("then deleted: the stack does not declare it)") for line in shown.values())
    assert main(["plan", "--stack", STACK, "--project-dir", str(folder), "--format", "json"]) == 0
    planned = json.loads(capsys.readouterr().out)["stacks"][0]
    assert {d["name"]: d["import"] for d in planned["deletes"]} == {n: e["id"] for n, e in deleted.items()}


def test_without_revoke_excess_nothing_undeclared_is_imported(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A daemon may still depend on full_access_as_app: by default the import file holds only declared objects."""
    folder, review = adopted(graph, tmp_path, capsys)
    document = json.loads((folder / "stacks" / f"{STACK}.import.json").read_text(encoding="utf-8"))
    urns = import_urns(document, STACK, PROJECT)
    registered = {r["urn"] for r in plan_stack(folder, load_stack(folder, STACK), datetime.now(UTC)).resources}
    assert set(urns.values()) <= registered
    assert not [f for f in review["findings"] if f["code"] == "adopt-revoked"]


def test_planning_the_stack_in_parts_gives_the_whole_stacks_import_file(
        graph: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Adopt plans a part of the apps at a time; the file it writes holds the URNs of the whole stack's plan."""
    from exo_oauth.tenant import adopt_run  # noqa: PLC0415

    monkeypatch.setattr(adopt_run, "PLAN_PART", 2)
    folder, review = adopted(graph, tmp_path, capsys)
    document = json.loads((folder / "stacks" / f"{STACK}.import.json").read_text(encoding="utf-8"))
    whole = plan_stack(folder, load_stack(folder, STACK), datetime.now(UTC)).resources
    urns = import_urns(document, STACK, PROJECT)
    assert {urns[e["name"]]: e["type"] for e in document["resources"]}.items() <= {
        r["urn"]: r["type"] for r in whole}.items()
    imported = {(e["type"], e.get("logicalName", e["name"])) for e in document["resources"] if "id" in e}
    assert sorted(review["creates"]) == sorted(r["name"] for r in whole if r["parent"] is not None
                                               and (r["type"], r["name"]) not in imported)
    assert len(load_stack(folder, STACK).config.apps) > 2
