"""A delegated app may name the users' mailboxes, or a mail-enabled group, whose protocol switches Exchange turns on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exo_domain.errors import ConfigError
from exo_oauth.cli import main
from tests.config_helpers import parse as parse_config
from tests.outputs_factory import planned_outputs, real_looking
from tests.powershell_parse import (
    calls,
    module_function,
    module_functions,
    parse,
    single_literal,
    step_calls,
    syntax_problems,
    text,
)
from tests.stack_factory import app, loaded, project, raw_config


def desktop(**keys: Any) -> dict[str, Any]:
    """Return a delegated imap+smtp desktop client's stack-file entry with `keys` added."""
    return app("delegated", ("imap", "smtp"), name="desktop", publicClient=True, credential={"type": "none"},
               redirectUris=["http://localhost"]) | keys


def scripts(tmp_path: Path, entry: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, list[Any]]:
    """Render the three scripts from the real program's deployed-looking outputs; return each one's step calls."""
    raw = raw_config(entry)
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps(real_looking(planned_outputs(loaded(raw)))), encoding="utf-8")
    project_dir = project(tmp_path, test=raw)
    found = {}
    for action in ("apply", "verify", "remove"):
        assert main(["exchange", "--project-dir", str(project_dir), "--stack", "test", "--outputs", str(saved),
                     "--action", action]) == 0
        root = parse(capsys.readouterr().out)
        assert syntax_problems(root) == []
        found[action] = [(c.name, {k: single_literal(v) for k, v in c.arguments.items() if k})
                         for c in step_calls(root)]
    return found


def test_named_mailboxes_get_each_protocol_switched_on_checked_and_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Apply turns IMAP and SMTP AUTH on for each named mailbox, verify checks them, remove leaves them."""
    steps = scripts(tmp_path, desktop(signInMailboxes=["ann@contoso.com", "bob@contoso.com"]), capsys)
    expected = [(box, prop) for box in ("ann@contoso.com", "bob@contoso.com")
                for prop in ("ImapEnabled", "SmtpClientAuthenticationDisabled")]
    for action, verb in (("apply", "Enable"), ("verify", "Test"), ("remove", "Show")):
        got = [(a["Mailbox"], a["Property"]) for n, a in steps[action] if n == f"{verb}-ExoOAuthMailboxProtocol"]
        assert sorted(got) == sorted(expected), action
    assert not [n for n, _ in steps["apply"] if n.startswith(("Register-", "Grant-"))]


def test_a_group_is_expanded_to_its_member_mailboxes_each_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """signInGroup: one step per protocol names the group; its members come from Get-DistributionGroupMember."""
    steps = scripts(tmp_path, desktop(signInGroup="mail-client-users@contoso.com"), capsys)
    assert [(a["Group"], a["Property"]) for n, a in steps["apply"] if n == "Enable-ExoOAuthGroupProtocol"] == [
        ("mail-client-users@contoso.com", "ImapEnabled"),
        ("mail-client-users@contoso.com", "SmtpClientAuthenticationDisabled")]
    assert [n for n, _ in steps["verify"] if "Group" in n] == ["Test-ExoOAuthGroupProtocol"] * 2
    members = parse(module_function("Get-ExoOAuthGroupMailboxes"))
    listing = next(c for c in calls(members) if c.name == "Get-DistributionGroupMember")
    assert text(listing.arguments["ResultSize"][0]) == "Unlimited"
    group = module_functions()["Enable-ExoOAuthGroupProtocol"]
    assert "Enable-ExoOAuthMailboxProtocol" in {c.name for c in calls(group)}


def test_a_delegated_app_naming_nobody_only_reports_as_before(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without signInMailboxes or signInGroup, apply reports the tenant's switches and changes none."""
    steps = scripts(tmp_path, desktop(), capsys)
    assert [n for n, _ in steps["apply"]] == ["Show-ExoOAuthTenantProtocol", "Show-ExoOAuthTenantProtocol",
                                             "Set-ExoOAuthTenantSmtpAuth"]


@pytest.mark.parametrize(("entry", "key_path", "message"), [
    (app("app-only", ("smtp",), signInMailboxes=["a@contoso.com"]), "exo-oauth:apps[0].signInMailboxes",
     "is only for delegated apps"),
    (app("app-only", ("smtp",), signInGroup="g@contoso.com"), "exo-oauth:apps[0].signInGroup",
     "is only for delegated apps"),
    (desktop(signInMailboxes=["a@contoso.com", "A@contoso.com"]), "exo-oauth:apps[0].signInMailboxes[1]",
     "is listed twice"),
    (desktop(signInGroup="not an address"), "exo-oauth:apps[0].signInGroup", ""),
])
def test_bad_sign_in_users_name_the_key(entry: dict[str, Any], key_path: str, message: str) -> None:
    """Only delegated apps name users; each mailbox once; the group is an address."""
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config(entry))
    assert raised.value.key_path == key_path
    assert message in str(raised.value)
