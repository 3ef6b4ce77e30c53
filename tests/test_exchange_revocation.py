"""`exo-oauth exchange --action apply --outputs NEW --previous OLD`: apply first takes back what OLD held.

OLD and NEW are the real program's outputs (the offline plan, IDs swapped for deployed-looking ones), one per side of
a change to the example stack contoso, so each test is one kind of removal a stack file can make.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from exo_oauth.cli import main
from tests.outputs_factory import planned_outputs, real_looking
from tests.powershell_parse import Call, parse, single_literal, step_calls, syntax_problems
from tests.stack_factory import PROJECT, loaded, project


def example_config(stack: str) -> dict[str, Any]:
    """Return the `config:` mapping of an example stack file."""
    config: dict[str, Any] = yaml.safe_load((PROJECT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return dict(config["config"])


CONTOSO = example_config("contoso")
REVOKES = ("Revoke-ExoOAuthRight", "Unregister-ExoOAuthServicePrincipal")


def outputs(raw: dict[str, Any], folder: Path, name: str) -> Path:
    """Save the deployed-looking outputs of stack `contoso` with config `raw`; return the file."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(real_looking(planned_outputs(loaded(raw, "contoso")))), encoding="utf-8")
    return path


def apply_steps(tmp_path: Path, old: dict[str, Any] | None, new: dict[str, Any], capsys: pytest.CaptureFixture[str],
                *extra: str) -> list[tuple[str, dict[str, str]]]:
    """Render apply for NEW (--previous OLD unless None) from a project whose stack file is NEW; return its steps."""
    (tmp_path / "project").mkdir()
    project_dir = project(tmp_path / "project", contoso=new)
    argv = ["exchange", "--project-dir", str(project_dir), "--stack", "contoso", "--action", "apply",
            "--outputs", str(outputs(new, tmp_path, "new")), *extra]
    if old is not None:
        argv += ["--previous", str(outputs(old, tmp_path, "old"))]
    assert main(argv) == 0
    script = capsys.readouterr().out
    root = parse(script)
    assert syntax_problems(root) == []
    return [(c.name, _literals(c)) for c in step_calls(root)]


def _literals(call: Call) -> dict[str, str]:
    return {key: single_literal(args) for key, args in call.arguments.items() if key}


def revoked(steps: list[tuple[str, dict[str, str]]]) -> list[tuple[str, str, str]]:
    """Return each revocation as (app, right or 'ServicePrincipal', mailbox or '')."""
    return [(args["App"], args.get("Right", "ServicePrincipal"), args.get("Mailbox", ""))
            for name, args in steps if name in REVOKES]


def changed(**apps: Any) -> dict[str, Any]:
    """Return contoso's config with the named apps replaced (None drops one)."""
    raw = copy.deepcopy(CONTOSO)
    by_name = {a["name"]: a for a in raw["exo-oauth:apps"]}
    for name, entry in apps.items():
        by_name[name] = entry
    raw["exo-oauth:apps"] = [a for a in by_name.values() if a is not None]
    return raw


def scanners(**overrides: Any) -> dict[str, Any]:
    """Return contoso's scanners app with some keys changed."""
    entry = copy.deepcopy(next(a for a in CONTOSO["exo-oauth:apps"] if a["name"] == "scanners"))
    return entry | overrides


def test_a_mailbox_taken_out_loses_full_access_and_send_as_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The frontdesk mailbox leaves scanners: both rights go, before any grant; scanner@ keeps its grant."""
    steps = apply_steps(tmp_path, CONTOSO, changed(scanners=scanners(mailboxes=["scanner@contoso.com"])), capsys)
    assert revoked(steps) == [("scanners", "FullAccess", "frontdesk@contoso.com"),
                              ("scanners", "SendAs", "frontdesk@contoso.com")]
    assert [name for name, _ in steps[:2]] == ["Revoke-ExoOAuthRight"] * 2
    grants = [(a["Right"], a["Mailbox"]) for name, a in steps if name == "Grant-ExoOAuthRight"]
    assert ("FullAccess", "scanner@contoso.com") in grants
    assert all(mailbox != "frontdesk@contoso.com" for _, mailbox in grants)


def test_send_as_dropped_revokes_send_as_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sendAs: true becomes false: SendAs is revoked, FullAccess on the same mailbox stays granted."""
    boxes = ["scanner@contoso.com", "frontdesk@contoso.com"]
    steps = apply_steps(tmp_path, CONTOSO, changed(scanners=scanners(mailboxes=boxes)), capsys)
    assert revoked(steps) == [("scanners", "SendAs", "frontdesk@contoso.com")]
    assert ("Grant-ExoOAuthRight", "FullAccess", "frontdesk@contoso.com") in [
        (n, a.get("Right"), a.get("Mailbox")) for n, a in steps]


def test_an_app_that_left_loses_every_right_then_its_service_principal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The helpdesk app leaves the stack: FullAccess on support@, then its service principal, by OLD's IDs."""
    old = real_looking(planned_outputs(loaded(CONTOSO, "contoso")))["apps"]["helpdesk"]
    steps = apply_steps(tmp_path, CONTOSO, changed(helpdesk=None), capsys)
    assert revoked(steps) == [("helpdesk", "FullAccess", "support@contoso.com"),
                              ("helpdesk", "ServicePrincipal", "")]
    trustee = next(a["Trustee"] for n, a in steps if n == "Revoke-ExoOAuthRight")
    unregister = next(a for n, a in steps if n == "Unregister-ExoOAuthServicePrincipal")
    assert trustee == unregister["ObjectId"] == old["servicePrincipalObjectId"]
    assert unregister["AppId"] == old["clientId"]
    assert not any(a.get("App") == "helpdesk" for n, a in steps if n not in REVOKES)


def test_removing_the_last_app_revokes_everything_either_app_held(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack with no app left: apply revokes every right and both service principals, and grants nothing."""
    steps = apply_steps(tmp_path, CONTOSO, changed(scanners=None, helpdesk=None), capsys)
    assert revoked(steps) == [("helpdesk", "FullAccess", "support@contoso.com"),
                              ("helpdesk", "ServicePrincipal", ""),
                              ("scanners", "FullAccess", "scanner@contoso.com"),
                              ("scanners", "FullAccess", "frontdesk@contoso.com"),
                              ("scanners", "SendAs", "frontdesk@contoso.com"),
                              ("scanners", "ServicePrincipal", "")]
    assert not [n for n, _ in steps if n.startswith(("Grant-", "Register-", "Enable-"))]


def test_an_app_turned_delegated_gives_back_its_app_only_rights(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The helpdesk app becomes delegated: its app-only rights and service principal belong to nothing now."""
    delegated = {"name": "helpdesk", "displayName": "Contoso help desk (IMAP/POP OAuth)", "flow": "delegated",
                 "protocols": ["imap", "pop"], "owners": CONTOSO["exo-oauth:apps"][1]["owners"]}
    steps = apply_steps(tmp_path, CONTOSO, changed(helpdesk=delegated), capsys)
    assert revoked(steps) == [("helpdesk", "FullAccess", "support@contoso.com"),
                              ("helpdesk", "ServicePrincipal", "")]


def test_protocol_switches_are_never_revoked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The helpdesk app drops pop: nothing is revoked and no Set-CASMailbox turns POP off (docs/decisions/0130)."""
    helpdesk = copy.deepcopy(CONTOSO["exo-oauth:apps"][1]) | {"protocols": ["imap"]}
    steps = apply_steps(tmp_path, CONTOSO, changed(helpdesk=helpdesk), capsys)
    assert revoked(steps) == []
    assert not [n for n, _ in steps if n.startswith(("Disable-", "Show-ExoOAuthMailbox"))]


def test_unchanged_stack_revokes_nothing_and_renders_as_without_previous(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """OLD equal to NEW renders exactly the script apply renders without --previous (a first deploy has no OLD)."""
    with_previous = apply_steps(tmp_path, CONTOSO, CONTOSO, capsys)
    (tmp_path / "again").mkdir()
    without = apply_steps(tmp_path / "again", None, CONTOSO, capsys)
    assert revoked(with_previous) == []
    assert with_previous == without


@pytest.mark.parametrize("extra", [["--action", "verify"], ["--offline"]])
def test_previous_is_refused_outside_the_deployed_apply_script(
        tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Only the deployed apply script revokes: --previous with verify, remove or --offline exits 2 on one line."""
    old = outputs(CONTOSO, tmp_path, "old")
    argv = ["exchange", "--project-dir", str(PROJECT), "--stack", "contoso", "--previous", str(old), *extra]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("exo-oauth exchange: --previous: only the apply script revokes")


def test_previous_outputs_of_another_tenant_are_refused_naming_the_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """OLD must be this stack's: another tenant's outputs exit 2 naming --previous, and print no script."""
    fabrikam = tmp_path / "fabrikam.json"
    fabrikam.write_text(json.dumps(real_looking(planned_outputs(loaded(example_config("fabrikam"), "fabrikam")))),
                        encoding="utf-8")
    argv = ["exchange", "--project-dir", str(PROJECT), "--stack", "contoso", "--action", "apply",
            "--outputs", str(outputs(CONTOSO, tmp_path, "new")), "--previous", str(fabrikam)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"exo-oauth exchange: --previous {fabrikam}: tenantId ")


def test_a_stack_never_deployed_has_empty_previous_outputs_and_nothing_is_revoked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pulumi stack output --json` prints {} before the first deploy: apply renders as without --previous."""
    empty = tmp_path / "empty.json"
    empty.write_text("{}\n", encoding="utf-8")
    first = apply_steps(tmp_path, None, CONTOSO, capsys, "--previous", str(empty))
    (tmp_path / "again").mkdir()
    assert first == apply_steps(tmp_path / "again", None, CONTOSO, capsys)
