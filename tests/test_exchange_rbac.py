"""`exchangeAccess: rbac`: an app-only SMTP app authorized by Exchange RBAC for Applications, end to end.

Microsoft's procedure (MicrosoftDocs/office-developer-exchange-docs, docs/legacy-protocols/smtp-app-rbac-onboarding.md
at commit aa46cf7, ms.date 10/17/2025): no API permission in Entra ID, New-ServicePrincipal, a management scope
(New-ManagementScope -RecipientRestrictionFilter) and New-ManagementRoleAssignment -Role 'Application SMTP.SendAsApp'
-CustomResourceScope; no mailbox permission.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from exo_domain.errors import ConfigError
from exo_domain.exchange_scripts import render_exchange_scripts
from exo_oauth.plan.offline import plan_stack
from exo_oauth.review.access_diff import diff_apps
from tests.config_helpers import NOW
from tests.config_helpers import parse as parse_config
from tests.exchange_factory import app_only, inputs_for, rbac_app
from tests.powershell_parse import calls, module_function, parse, single_literal, step_calls, syntax_problems, text
from tests.stack_factory import REPO, app, loaded, raw_config

ROLE = "Application SMTP.SendAsApp"


def rbac_entry(**overrides: Any) -> dict[str, Any]:
    """Return a stack-file app entry for an rbac SMTP app."""
    return app("app-only", ("smtp",), name="printers", mailboxes=["box@contoso.com", "sender@contoso.com"],
               exchangeAccess="rbac") | overrides


def steps(script: str) -> list[tuple[str, dict[str, str]]]:
    """Return each step call of a script with its arguments as PowerShell reads them."""
    root = parse(script)
    assert syntax_problems(root) == []
    return [(c.name, {k: single_literal(v) for k, v in c.arguments.items() if k}) for c in step_calls(root)]


@pytest.mark.parametrize(("entry", "key_path", "message"), [
    (app("app-only", ("imap", "smtp"), exchangeAccess="rbac"), "exo-oauth:apps[0].exchangeAccess",
     "'rbac' is only for app-only apps whose protocols are [smtp]"),
    (app("delegated", ("smtp",), exchangeAccess="rbac"), "exo-oauth:apps[0].exchangeAccess",
     "'rbac' is only for app-only apps whose protocols are [smtp]"),
    (rbac_entry(mailboxes=[{"address": "a@contoso.com", "sendAs": True}]), "exo-oauth:apps[0].mailboxes[0]",
     "sendAs: true is not used with exchangeAccess: rbac"),
    (rbac_entry(mailboxes=["o'brien@contoso.com"]), "exo-oauth:apps[0].mailboxes[0]",
     "which an Exchange recipient filter cannot carry safely"),
    (rbac_entry(exchangeAccess="scoped"), "exo-oauth:apps[0].exchangeAccess", "allowed:"),
])
def test_rbac_is_refused_where_microsoft_does_not_offer_it(entry: dict[str, Any], key_path: str, message: str) -> None:
    """Only app-only SMTP apps may use rbac; its mailboxes carry no sendAs and no quote; one line names the key."""
    with pytest.raises(ConfigError) as raised:
        parse_config(raw_config(entry))
    assert raised.value.key_path == key_path
    assert message in str(raised.value)


def test_an_rbac_app_requests_and_is_granted_no_entra_permission() -> None:
    """The plan has no app role assignment and no requested permission for it; its outputs say rbac."""
    plan = plan_stack(REPO, loaded(raw_config(rbac_entry())), NOW)
    types = {r["type"] for r in plan.resources}
    assert "azuread:index/appRoleAssignment:AppRoleAssignment" not in types
    application = next(r for r in plan.resources if r["name"] == "printers-app")
    assert not application["inputs"].get("requiredResourceAccesses")
    outputs = plan.outputs["apps"]["printers"]
    assert outputs["permissions"] == []
    assert outputs["exchangeAccess"] == "rbac"
    assert outputs["scopes"] == ["https://outlook.office365.com/.default"]


def test_apply_scopes_the_role_to_exactly_the_apps_mailboxes_and_grants_no_mailbox_permission() -> None:
    """Apply: service principal, a scope of the two mailboxes, the one role on it; no FullAccess, no SendAs."""
    printers = rbac_app()
    apply = steps(render_exchange_scripts(inputs_for({"printers": printers}))["apply"])
    names = [name for name, _ in apply]
    assert "Grant-ExoOAuthRight" not in names
    assert names[:3] == ["Register-ExoOAuthServicePrincipal", "Set-ExoOAuthManagementScope",
                         "Grant-ExoOAuthRoleAssignment"]
    scope = apply[1][1]
    assert scope["Name"] == f"exo-oauth-{printers['clientId']}"
    assert scope["Filter"] == "(EmailAddresses -eq 'box@contoso.com') -or (EmailAddresses -eq 'sender@contoso.com')"
    assignment = apply[2][1]
    assert assignment == {"App": "printers", "Name": scope["Name"], "Role": ROLE,
                          "ObjectId": printers["servicePrincipalObjectId"], "Scope": scope["Name"]}
    switched = [(a["Mailbox"], a["Property"]) for n, a in apply if n == "Enable-ExoOAuthMailboxProtocol"]
    assert switched == [(box, "SmtpClientAuthenticationDisabled") for box in ("box@contoso.com", "sender@contoso.com")]


def test_the_role_assignment_goes_to_the_service_principal_object_id_with_the_documented_parameters() -> None:
    """New-ManagementRoleAssignment gets -Name, -Role, -App (the ObjectId) and -CustomResourceScope, nothing else."""
    body = parse(module_function("Grant-ExoOAuthRoleAssignment"))
    new = next(c for c in calls(body) if c.name == "New-ManagementRoleAssignment")
    assert {k: text(v[0]) for k, v in new.arguments.items() if k} == {
        "Name": "$Name", "Role": "$Role", "App": "$ObjectId", "CustomResourceScope": "$Scope"}
    scope = parse(module_function("Set-ExoOAuthManagementScope"))
    assert {c.name for c in calls(scope)} >= {"New-ManagementScope", "Set-ManagementScope"}


def test_verify_checks_scope_assignment_and_each_mailbox_with_test_service_principal_authorization() -> None:
    """Verify reads the scope and the assignment and asks Exchange, per mailbox, whether the app is in scope."""
    verify = steps(render_exchange_scripts(inputs_for({"printers": rbac_app()}))["verify"])
    names = [name for name, _ in verify]
    assert {"Test-ExoOAuthManagementScope", "Test-ExoOAuthRoleAssignment"} <= set(names)
    assert [a["Mailbox"] for n, a in verify if n == "Test-ExoOAuthSendAuthorization"] == [
        "box@contoso.com", "sender@contoso.com"]
    check = parse(module_function("Test-ExoOAuthSendAuthorization"))
    assert "Test-ServicePrincipalAuthorization" in {c.name for c in calls(check)}


def test_remove_takes_the_assignment_then_the_scope_then_the_service_principal() -> None:
    """Remove undoes apply backwards: the assignment goes before the scope it names."""
    remove = [n for n, _ in steps(render_exchange_scripts(inputs_for({"printers": rbac_app()}))["remove"])]
    order = [n for n in remove if n in ("Revoke-ExoOAuthRoleAssignment", "Remove-ExoOAuthManagementScope",
                                         "Unregister-ExoOAuthServicePrincipal")]
    assert order == ["Revoke-ExoOAuthRoleAssignment", "Remove-ExoOAuthManagementScope",
                     "Unregister-ExoOAuthServicePrincipal"]


def _apply_with_previous(old: dict[str, Any], new: dict[str, Any] | None) -> list[tuple[str, dict[str, str]]]:
    current = inputs_for({} if new is None else {"printers": new})
    previous = inputs_for({"printers": old}).apps
    return steps(render_exchange_scripts(current, previous=previous)["apply"])


def test_a_mailbox_taken_out_of_an_rbac_app_is_revoked_by_a_narrower_scope() -> None:
    """Revocation is a change of scope: no Revoke step, the scope's filter no longer names the mailbox."""
    apply = _apply_with_previous(rbac_app(), rbac_app(addresses=("box@contoso.com",)))
    assert not [n for n, _ in apply if n.startswith(("Revoke-", "Remove-", "Unregister-"))]
    scope = next(a for n, a in apply if n == "Set-ExoOAuthManagementScope")
    assert scope["Filter"] == "(EmailAddresses -eq 'box@contoso.com')"
    review = diff_apps({"printers": rbac_app()}, {"printers": rbac_app(addresses=("box@contoso.com",))})
    assert [(c.kind, c.detail) for c in review if c.kind == "exchange-revoked"] == [
        ("exchange-revoked", "the deploy revokes sending as sender@contoso.com (taken out of its management scope)")]


def test_an_rbac_app_that_left_loses_assignment_scope_and_service_principal_in_that_order() -> None:
    """The last app, an rbac one, leaves: apply revokes its assignment, then its scope, then its principal."""
    revoked = [n for n, _ in _apply_with_previous(rbac_app(), None) if n.startswith(("Revoke-", "Remove-", "Unreg"))]
    assert revoked == ["Revoke-ExoOAuthRoleAssignment", "Remove-ExoOAuthManagementScope",
                       "Unregister-ExoOAuthServicePrincipal"]


def test_moving_an_app_to_rbac_revokes_its_mailbox_permissions_and_back_revokes_its_rbac_grant() -> None:
    """mailbox-permissions -> rbac drops FullAccess and SendAs; rbac -> mailbox-permissions drops the RBAC grant."""
    classic = app_only("printers", ("smtp",))
    to_rbac = _apply_with_previous(classic, rbac_app(addresses=("box@contoso.com", "sender@contoso.com")))
    assert [(a["Right"], a["Mailbox"]) for n, a in to_rbac if n == "Revoke-ExoOAuthRight"] == [
        ("FullAccess", "box@contoso.com"), ("FullAccess", "sender@contoso.com"), ("SendAs", "sender@contoso.com")]
    back = _apply_with_previous(rbac_app(), classic)
    assert [n for n, _ in back if n.startswith(("Revoke-", "Remove-"))] == [
        "Revoke-ExoOAuthRoleAssignment", "Remove-ExoOAuthManagementScope"]
    assert "Unregister-ExoOAuthServicePrincipal" not in [n for n, _ in back]


def test_every_rbac_change_is_guarded_by_a_lookup() -> None:
    """Each RBAC step looks the scope or assignment up before it creates, changes or removes it."""
    for function, change in (("Set-ExoOAuthManagementScope", "New-ManagementScope"),
                             ("Grant-ExoOAuthRoleAssignment", "New-ManagementRoleAssignment"),
                             ("Remove-ExoOAuthManagementScope", "Remove-ManagementScope"),
                             ("Revoke-ExoOAuthRoleAssignment", "Remove-ManagementRoleAssignment")):
        body = module_function(function)
        assert body.index("Find-ExoOAuthRbacObject") < body.index(change), function
        assert body.index("return") < body.index(change), function


def test_the_plan_shows_an_rbac_app_holds_no_mailbox_permission() -> None:
    """The review's words for an rbac mailbox are the scope, not FullAccess."""
    review = diff_apps({}, {"printers": copy.deepcopy(rbac_app())})
    assert "box@contoso.com: SMTP send (RBAC scope)" in review[0].detail
    assert "FullAccess" not in review[0].detail
