"""ExoOAuth.psm1 ships beside every script, which checks its SHA-256 and imports it; nothing in it is dead."""

import hashlib
import re
from pathlib import Path

import pytest

from components.exchange_folder import write_exchange_folder
from exo_domain.config import ExchangeConfig
from exo_domain.exchange_actions import ACTIONS, script_name
from exo_domain.exchange_module import MODULE_NAME, module_sha256, module_text
from exo_domain.exchange_scripts import render_exchange_scripts
from exo_oauth.tenant.exchange_export import export_script
from tests.exchange_factory import app_only, delegated, inputs_for, rbac_app
from tests.powershell_parse import (
    calls,
    module_exports,
    module_functions,
    nodes,
    parse,
    single_literal,
    step_calls,
    syntax_problems,
    text,
)


def every_script() -> dict[str, str]:
    """Return a stack's scripts with every kind of step, its offline copies and audit's export script, by name."""
    inputs = inputs_for({"a": app_only("a", ("imap", "pop", "smtp")), "r": rbac_app("r"),
                         "d": delegated("d", ("imap", "smtp"), signInGroup="staff@contoso.com")},
                        ExchangeConfig(tenant_smtp_auth="enable"))
    return {**render_exchange_scripts(inputs), **{f"offline {a}": t for a, t in
                                                  render_exchange_scripts(inputs, offline=True).items()},
            "export": export_script()}


def test_module_file_parses_without_syntax_errors() -> None:
    """tree-sitter-powershell reads the whole .psm1 without ERROR or MISSING nodes."""
    assert syntax_problems(parse(module_text())) == []


@pytest.mark.parametrize("name", list(every_script()))
def test_every_script_checks_the_module_hash_before_it_imports_it_and_before_any_step(name: str) -> None:
    """The script throws unless ExoOAuth.psm1 beside it has the module's digest, then imports it, then calls it.

    Get-FileHash before Import-Module of that same path, and both before any module function (sign-in included).
    """
    script = every_script()[name]
    found = calls(parse(script))
    names = [c.name for c in found]
    joined = next(c for c in found if c.name == "Join-Path")
    assert text(joined.arguments["Path"][0]) == "$PSScriptRoot"
    assert single_literal(joined.arguments["ChildPath"]) == MODULE_NAME
    digest = re.search(r"\.Hash -ne ('[0-9A-F]{64}')\) \{\n    throw '", script)
    assert digest is not None
    assert digest.group(1) == f"'{module_sha256()}'"
    imported = names.index("Import-Module")
    assert names.index("Get-FileHash") < imported
    assert text(found[imported].arguments["Name"][0]) == "$ExoOAuthModule"
    assert all(names.index(c.name) > imported for c in found if "-ExoOAuth" in c.name)
    assert not [n for n in nodes(parse(script)) if n.type == "function_statement"]


def test_the_digest_in_a_script_is_the_sha256_of_the_module_file_written_beside_it(tmp_path: Path) -> None:
    """What Get-FileHash will read is exactly what the script expects: the bytes written, not the text in memory."""
    scripts = render_exchange_scripts(inputs_for({"a": app_only("a")}))
    write_exchange_folder(tmp_path, {script_name(a): scripts[a] for a in ACTIONS})
    on_disk = hashlib.sha256((tmp_path / MODULE_NAME).read_bytes()).hexdigest().upper()
    assert f"-ne '{on_disk}'" in (tmp_path / script_name("apply")).read_text(encoding="utf-8")
    assert b"\r\n" not in (tmp_path / MODULE_NAME).read_bytes()


def test_a_module_copy_with_other_bytes_is_replaced_and_an_identical_folder_is_left_alone(tmp_path: Path) -> None:
    """A module turned to CRLF (same text to a reader, another hash) is rewritten; a second write changes nothing."""
    scripts = {script_name("verify"): render_exchange_scripts(inputs_for({"a": app_only("a")}))["verify"]}
    (tmp_path / MODULE_NAME).write_bytes(module_text().replace("\n", "\r\n").encode("utf-8"))
    assert write_exchange_folder(tmp_path, scripts) == [tmp_path / MODULE_NAME, tmp_path / script_name("verify")]
    assert write_exchange_folder(tmp_path, scripts) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MODULE_NAME, script_name("verify")])


def test_the_module_stops_on_errors_itself_and_never_exits_the_session_that_imported_it() -> None:
    """The module sets $ErrorActionPreference itself, and no function of it calls `exit`.

    A script module does not see the script's preference variables (PowerShell/PowerShell#4568). An `exit` in a module
    function would end the caller, not return: the verify script exits with the drift status itself.
    """
    top = module_text().split("\nfunction ", 1)[0]
    assert "\n$ErrorActionPreference = 'Stop'\n" in top
    assert "\nSet-StrictMode -Version Latest\n" in top
    assert not re.search(r"^\s*exit\b", module_text(), re.MULTILINE)
    verify = render_exchange_scripts(inputs_for({"a": app_only("a")}))["verify"]
    assert verify.endswith("if (Complete-ExoOAuthVerify) { exit 5 }\n")


def test_every_module_function_is_an_export_the_scripts_call_or_a_helper_one_of_them_reaches() -> None:
    """No dead PowerShell: starting from what the scripts call, following calls, reaches every function."""
    defined = module_functions()
    called = {c.name for script in every_script().values() for c in calls(parse(script))} & set(defined)
    assert called <= module_exports()
    reached, pending = set(), list(called)
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending += [c.name for c in calls(defined[name]) if c.name in defined]
    assert reached == set(defined)
    assert {c.name for s in every_script().values() for c in step_calls(parse(s))} <= module_exports()


def test_every_exchange_read_of_a_new_service_principal_is_inside_the_retry() -> None:
    """Naming a service principal Exchange has not learnt of yet fails like a grant, so its checks retry too.

    In Grant-ExoOAuthRight, every call that names the trustee (Get-ExoOAuthRight's Get-MailboxPermission -User and
    Get-RecipientPermission -Trustee, and the grants) is inside the script block given to Invoke-ExoOAuthRetry.
    """
    grant = module_functions()["Grant-ExoOAuthRight"]
    retries = [n for n in nodes(grant) if n.type == "command" and text(n).startswith("Invoke-ExoOAuthRetry")]
    assert len(retries) == 1
    inside = {c.name for c in calls(retries[0])}
    naming = {c.name for c in calls(grant) if c.name in {"Get-ExoOAuthRight", "Add-MailboxPermission",
                                                          "Add-RecipientPermission"}}
    assert naming == {"Get-ExoOAuthRight", "Add-MailboxPermission", "Add-RecipientPermission"}
    assert naming <= inside
    outside = [c.name for c in calls(grant) if c.name in naming]
    assert len(outside) == len(naming)
