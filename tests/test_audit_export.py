"""The Exchange export: a read-only script whose values are quoted literals, and a strict reader of its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exo_domain.exchange_module import MODULE_NAME, module_text
from exo_oauth.cli import main
from exo_oauth.tenant.exchange_export import EXPORT_FILE, EXPORT_SCRIPT, FORMAT, export_script, load_export
from exo_oauth.util.errors import UsageError
from tests.powershell_parse import (
    calls,
    module_functions,
    parse,
    reached_commands,
    single_literal,
    syntax_problems,
    text,
)

EXPORT_FUNCTION = "Export-ExoOAuthExchangeState"
READ_ONLY = {"Get-ServicePrincipal", "Get-EXOMailbox", "Get-EXOMailboxPermission", "Get-RecipientPermission",
             "Where-Object", "ForEach-Object", "ConvertTo-Json", "Set-Content", "Write-Host", "Write-Progress",
             "Join-Path", "Test-Path", "Get-FileHash", "Import-Module", "Set-StrictMode"}
APP = "22222222-3333-4444-8555-666666666666"
SP = "33333333-4444-4555-8666-777777777777"


def test_export_script_parses_and_only_reads_exchange() -> None:
    """Every command it reaches is a Get-* cmdlet or local output; the file it writes is a quoted literal."""
    root = parse(export_script())
    assert syntax_problems(root) == []
    assert reached_commands(export_script()) <= READ_ONLY | {EXPORT_FUNCTION}
    found = calls(root) + calls(module_functions()[EXPORT_FUNCTION])
    # Get-EXOMailbox and Get-EXOMailboxPermission: the REST cmdlets Microsoft optimizes for bulk reads
    # (learn.microsoft.com/powershell/exchange/exchange-online-powershell-v2).
    assert {"Get-ServicePrincipal", "Get-EXOMailbox", "Get-EXOMailboxPermission", "Get-RecipientPermission"} <= {
        c.name for c in found}
    progress = [c for c in found if c.name == "Write-Progress"]
    assert [single_literal(c.arguments["Activity"]) for c in progress] == ["Reading mailbox permissions"] * 2
    assert "Completed" in progress[-1].arguments
    assert "-DelegatedOrganization" in export_script()
    assert [text(a[0]) for c in found if c.name == "Set-Content" for a in [c.arguments["Path"]]] == ["$Path"]
    export = [c for c in found if c.name == EXPORT_FUNCTION]
    assert [(single_literal(c.arguments["Path"]), single_literal(c.arguments["Format"])) for c in export] == [
        (EXPORT_FILE, FORMAT)]


def test_export_script_is_written_beside_the_module_without_signing_in(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--export-script DIR` needs no tenant and no network: it writes the script and the module it imports."""
    assert main(["audit", "--export-script", str(tmp_path / "export")]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "export").iterdir()}
    assert written == {EXPORT_SCRIPT: export_script(), MODULE_NAME: module_text()}
    assert str(tmp_path / "export" / EXPORT_SCRIPT) in capsys.readouterr().err


def test_an_export_folder_that_cannot_be_written_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file where the folder should be: a usage error naming the flag, no traceback."""
    (tmp_path / "taken").write_text("", encoding="utf-8")
    assert main(["audit", "--export-script", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"exo-oauth audit: --export-script {tmp_path / 'taken'}: cannot write there")
    assert len(err.strip().splitlines()) == 1


def _export(**parts: object) -> dict[str, object]:
    return {"format": FORMAT, "servicePrincipals": [{"appId": APP, "objectId": SP, "displayName": "Scanner"}],
            "mailboxPermissions": [{"mailbox": "a@contoso.example", "principalObjectId": SP,
                                    "rights": ["FullAccess"]}]} | parts


def test_export_reads_utf16_and_a_single_object_where_powershell_drops_the_array(tmp_path: Path) -> None:
    """Windows PowerShell writes UTF-16, and ConvertTo-Json writes a one-element array as the element."""
    data = _export(servicePrincipals={"appId": APP.upper(), "objectId": SP, "displayName": "Scanner"})
    path = tmp_path / "export.json"
    path.write_bytes(json.dumps(data).encode("utf-16"))
    export = load_export(path)
    assert export.principals[0].app_id == APP
    assert export.permissions[0].rights == ("FullAccess",)


@pytest.mark.parametrize(("data", "message"), [
    ({"format": "other"}, "not an exo-oauth Exchange export"),
    (_export(servicePrincipals=[{"appId": "x' or 1 eq 1", "objectId": SP, "displayName": "S"}]),
     "servicePrincipals[0].appId: \"x' or 1 eq 1\" is not a GUID"),
    (_export(mailboxPermissions=[{"mailbox": "a@b.example", "principalObjectId": SP, "rights": "FullAccess"}]),
     "mailboxPermissions[0].rights: not a list"),
    (_export(mailboxPermissions=[{"mailbox": "Büro", "principalObjectId": SP, "rights": ["FullAccess"]}]),
     "mailboxPermissions[0].mailbox: 'Büro' is not a mailbox address"),
])
def test_bad_export_is_one_line_naming_the_key(tmp_path: Path, data: dict[str, object], message: str) -> None:
    """A bad file names the flag, the file and the key path; a non-GUID never reaches a Graph filter."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UsageError, match="--exchange-export") as error:
        load_export(path)
    assert message in str(error.value)


def test_audit_with_a_bad_export_exits_2_before_signing_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The export is checked before any network call."""
    path = tmp_path / "export.json"
    path.write_text("{", encoding="utf-8")
    status = main(["audit", "--tenant", APP, "--exchange-export", str(path), "--authority-host", "https://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1


def test_an_export_of_a_ten_thousand_mailbox_tenant_is_read(tmp_path: Path) -> None:
    """10,000 apps with a mailbox each lists past files.MAX_ITEMS; the export's own limit fits it."""
    count = 10_000
    principals = [{"appId": f"00000000-0000-4000-8000-{i:012d}", "objectId": f"10000000-0000-4000-8000-{i:012d}",
                   "displayName": f"Scanner {i}"} for i in range(count)]
    permissions = [{"mailbox": f"box{i}@contoso.example", "principalObjectId": p["objectId"], "rights": ["FullAccess"]}
                   for i, p in enumerate(principals)]
    path = tmp_path / EXPORT_FILE
    path.write_text(json.dumps({"format": FORMAT, "servicePrincipals": principals, "mailboxPermissions": permissions}),
                    encoding="utf-8")
    export = load_export(path)
    assert (len(export.principals), len(export.permissions)) == (count, count)
