from typing import Any

import pytest

from exo_domain.config import ExchangeConfig
from exo_domain.errors import ConfigError
from exo_domain.exchange_actions import ACTIONS, EXIT_DRIFT
from exo_domain.exchange_scripts import exchange_inputs, render_exchange_scripts
from exo_domain.microsoft import PROTOCOLS_BY_NAME
from tests.exchange_factory import app_only, delegated, example, inputs_for
from tests.powershell_parse import (
    Call,
    calls,
    module_exports,
    module_function,
    module_functions,
    parse,
    reached_commands,
    single_literal,
    step_calls,
    syntax_problems,
    text,
)

CHANGES = {"New-ServicePrincipal", "Set-ServicePrincipal", "Remove-ServicePrincipal", "Add-MailboxPermission",
           "Remove-MailboxPermission", "Add-RecipientPermission", "Remove-RecipientPermission", "Set-CASMailbox",
           "Set-TransportConfig"}
"""Every Exchange cmdlet the scripts may use to change something."""
SWITCH = {"imap": {"Label": "IMAP", "Property": "ImapEnabled", "Wanted": "True"},
          "pop": {"Label": "POP", "Property": "PopEnabled", "Wanted": "True"},
          "smtp": {"Label": "SMTP AUTH", "Property": "SmtpClientAuthenticationDisabled", "Wanted": "False"}}
"""Each protocol's per-mailbox switch, as the steps pass it (written out, not read from the facts module)."""


def scripts(*apps: dict[str, Any], exchange: ExchangeConfig | None = None) -> dict[str, str]:
    """Render the three scripts for hand-written app outputs."""
    return render_exchange_scripts(inputs_for({a["name"]: a for a in apps}, exchange))


def steps(script: str) -> list[tuple[str, dict[str, str]]]:
    """Return each step call with its arguments read as PowerShell reads them."""
    return [(c.name, _literals(c)) for c in step_calls(parse(script))]


def _literals(call: Call) -> dict[str, str]:
    return {key: single_literal(args) for key, args in call.arguments.items() if key}


def commands_in(script: str) -> set[str]:
    """Return the name of every command the script runs, in itself or in the module functions it reaches."""
    return reached_commands(script)


def test_app_only_imap_app_registers_grants_full_access_and_enables_imap() -> None:
    """An app-only IMAP app gets its service principal, FullAccess on each mailbox and IMAP on each mailbox."""
    app = app_only("reader", ("imap",), mailboxes=[{"address": "shared@contoso.com", "sendAs": False}])
    assert steps(scripts(app)["apply"]) == [
        ("Register-ExoOAuthServicePrincipal", {"App": "reader", "AppId": app["clientId"],
                                               "ObjectId": app["servicePrincipalObjectId"],
                                               "DisplayName": "reader app"}),
        ("Grant-ExoOAuthRight", {"Right": "FullAccess", "App": "reader", "Mailbox": "shared@contoso.com",
                                 "Trustee": app["servicePrincipalObjectId"]}),
        ("Enable-ExoOAuthMailboxProtocol", {"Mailbox": "shared@contoso.com", **SWITCH["imap"]}),
        ("Set-ExoOAuthTenantSmtpAuth", {"Setting": "report"}),
    ]


@pytest.mark.parametrize("protocols", [("imap",), ("pop",), ("smtp",), ("imap", "pop", "smtp")])
def test_each_chosen_protocol_is_switched_on_for_each_mailbox_and_no_other(protocols: tuple[str, ...]) -> None:
    """Apply enables exactly the app's protocols on each of its mailboxes; verify checks the same pairs."""
    rendered = scripts(app_only(protocols=protocols))
    expected = [{"Mailbox": box, **SWITCH[p]} for box in ("box@contoso.com", "sender@contoso.com") for p in protocols]
    assert [a for n, a in steps(rendered["apply"]) if n == "Enable-ExoOAuthMailboxProtocol"] == expected
    assert [a for n, a in steps(rendered["verify"]) if n == "Test-ExoOAuthMailboxProtocol"] == expected


def test_smtp_switch_sets_smtp_client_authentication_disabled_false_per_mailbox() -> None:
    """The SMTP step turns SMTP AUTH on per mailbox by setting SmtpClientAuthenticationDisabled to $false."""
    rendered = scripts(app_only(protocols=("smtp",)))
    smtp = {"Label": "SMTP AUTH", "Property": "SmtpClientAuthenticationDisabled", "Wanted": "False"}
    assert [a for n, a in steps(rendered["apply"]) if n == "Enable-ExoOAuthMailboxProtocol"] == [
        {"Mailbox": box, **smtp} for box in ("box@contoso.com", "sender@contoso.com")]
    assert "Set-CASMailbox" in [c.name for c in calls(module_functions()["Enable-ExoOAuthMailboxProtocol"])]


def test_the_switch_table_lives_only_in_the_protocol_facts() -> None:
    """The module names no protocol switch: each step gets switch, wanted value and label from PROTOCOLS_BY_NAME."""
    defined = module_functions()
    for verb in ("Enable", "Test", "Show"):
        body = text(defined[f"{verb}-ExoOAuthMailboxProtocol"])
        assert not [p.name for p in PROTOCOLS_BY_NAME.values() if p.cas_switch in body or f"'{p.cas_label}'" in body]
    assert "ImapEnabled" not in text(defined["Show-ExoOAuthTenantProtocol"])
    assert "Get-ExoOAuthSwitch" not in defined


def test_send_as_is_granted_verified_and_revoked_only_where_the_stack_sets_it() -> None:
    """SendAs steps exist for the sendAs mailbox in all three scripts and for no other mailbox."""
    rendered = scripts(app_only())
    for action, name in [("apply", "Grant-ExoOAuthRight"), ("verify", "Test-ExoOAuthRight"),
                         ("remove", "Revoke-ExoOAuthRight")]:
        found = steps(rendered[action])
        assert [a["Mailbox"] for n, a in found if n == name and a["Right"] == "SendAs"] == ["sender@contoso.com"]


def test_service_principal_object_id_not_application_object_id_goes_to_object_id_and_trustee() -> None:
    """-ObjectId and every -Trustee carry the service principal's object id; the app object id appears nowhere."""
    app = app_only()
    for action, script in scripts(app).items():
        args = [a for _, a in steps(script)]
        assert {a["ObjectId"] for a in args if "ObjectId" in a} == {app["servicePrincipalObjectId"]}, action
        assert {a["Trustee"] for a in args if "Trustee" in a} == {app["servicePrincipalObjectId"]}, action
        assert {a["AppId"] for a in args if "AppId" in a} == {app["clientId"]}, action
        assert app["applicationObjectId"] not in script, action


def test_delegated_app_only_reports_its_protocols_tenant_wide() -> None:
    """A delegated app gets no service principal or mailbox step, only a tenant-wide report per protocol."""
    rendered = scripts(delegated(protocols=("imap", "smtp")))
    reports = [("Show-ExoOAuthTenantProtocol", {"App": "mail-clients", "Protocol": p, **SWITCH[p]})
               for p in ("imap", "smtp")]
    assert steps(rendered["apply"]) == [*reports, ("Set-ExoOAuthTenantSmtpAuth", {"Setting": "report"})]
    assert steps(rendered["verify"]) == [*reports, ("Test-ExoOAuthTenantSmtpAuth", {"Setting": "report"})]
    assert steps(rendered["remove"]) == []
    assert not CHANGES & commands_in(rendered["apply"]) - {"Set-TransportConfig"}


def test_delegated_app_with_mailboxes_is_rejected() -> None:
    """Outputs that give a delegated app mailboxes are refused, naming the key."""
    app = delegated() | {"mailboxes": [{"address": "a@contoso.com", "sendAs": False}]}
    with pytest.raises(ConfigError, match=r"apps\.mail-clients\.mailboxes: must be empty for a delegated app"):
        scripts(app)


def test_mailbox_shared_by_two_apps_gets_each_protocol_switch_once() -> None:
    """Two apps on one mailbox get their own FullAccess, but each protocol switch of the mailbox appears once."""
    one = app_only("one", ("imap",), mailboxes=[{"address": "shared@contoso.com", "sendAs": False}])
    two = app_only("two", ("imap", "smtp"), mailboxes=[{"address": "shared@contoso.com", "sendAs": False}])
    apply = steps(scripts(one, two)["apply"])
    assert [a["App"] for n, a in apply if n == "Grant-ExoOAuthRight" and a["Right"] == "FullAccess"] == ["one", "two"]
    assert [a["Property"] for n, a in apply if n == "Enable-ExoOAuthMailboxProtocol"] == [
        "ImapEnabled", "SmtpClientAuthenticationDisabled"]


def test_output_does_not_depend_on_the_order_of_the_apps_mapping() -> None:
    """Apps are rendered sorted by name, so the hook and `exo-oauth exchange` print the same text."""
    a, b = app_only("alpha"), app_only("beta")
    assert scripts(a, b) == scripts(b, a)


def test_remove_undoes_permissions_before_the_service_principal_and_keeps_switches() -> None:
    """Remove revokes SendAs and FullAccess, then drops the service principal; switches and tenant stay."""
    names = [(n, a.get("Right")) for n, a in steps(scripts(app_only(protocols=("smtp",)))["remove"])]
    assert names == [("Show-ExoOAuthMailboxProtocol", None), ("Show-ExoOAuthMailboxProtocol", None),
                     ("Revoke-ExoOAuthRight", "SendAs"), ("Revoke-ExoOAuthRight", "FullAccess"),
                     ("Revoke-ExoOAuthRight", "FullAccess"), ("Unregister-ExoOAuthServicePrincipal", None)]


def test_remove_changes_nothing_but_permissions_and_the_service_principal() -> None:
    """The remove script never adds anything, and never touches protocol switches or tenant-wide SMTP AUTH."""
    used = commands_in(scripts(app_only(protocols=("imap", "smtp")))["remove"]) & CHANGES
    assert used == {"Remove-MailboxPermission", "Remove-RecipientPermission", "Remove-ServicePrincipal"}


def test_verify_is_read_only_and_exits_with_the_drift_status() -> None:
    """The verify script calls no changing cmdlet and ends with `exit <ExitCode.DRIFT>` when it recorded drift."""
    verify = scripts(app_only(protocols=("imap", "pop", "smtp")), delegated())["verify"]
    assert not commands_in(verify) & CHANGES
    assert calls(parse(verify))[-1].name == "Complete-ExoOAuthVerify"
    assert verify.endswith(f"\nif (Complete-ExoOAuthVerify) {{ exit {EXIT_DRIFT} }}\n")
    summary = module_function("Complete-ExoOAuthVerify")
    assert summary.index("if ($script:ExoOAuthDrift.Count)") < summary.index("return $true") < summary.index(
        "return $false")


@pytest.mark.parametrize("setting", ["report", "enable", "disable"])
def test_tenant_smtp_auth_setting_reaches_apply_and_verify_but_not_remove(setting: str) -> None:
    """The stack's tenantSmtpAuth value is passed to apply and verify; remove leaves the tenant switch alone."""
    rendered = scripts(app_only(), exchange=ExchangeConfig(tenant_smtp_auth=setting))
    assert steps(rendered["apply"])[-1] == ("Set-ExoOAuthTenantSmtpAuth", {"Setting": setting})
    assert steps(rendered["verify"])[-1] == ("Test-ExoOAuthTenantSmtpAuth", {"Setting": setting})
    assert "Set-TransportConfig" not in commands_in(rendered["remove"])


def test_tenant_smtp_auth_is_changed_only_when_the_setting_asks() -> None:
    """Set-TransportConfig sits after the `report` early return and after comparing the current state."""
    body = module_function("Set-ExoOAuthTenantSmtpAuth")
    assert body.index("if ($Setting -eq 'report')") < body.index("if ($disabled -eq $wanted)") < body.index(
        "Set-TransportConfig")


def _order(function: str, script: str) -> list[str]:
    """Return the commands `function` calls in order, after checking that `script` reaches it."""
    assert function in reached_commands(script)
    return [c.name for c in calls(module_functions()[function])]


@pytest.mark.parametrize(("function", "guard", "change"), [
    ("Register-ExoOAuthServicePrincipal", "Find-ExoOAuthServicePrincipal", "New-ServicePrincipal"),
    ("Grant-ExoOAuthRight", "Get-ExoOAuthRight", "Add-MailboxPermission"),
    ("Grant-ExoOAuthRight", "Get-ExoOAuthRight", "Add-RecipientPermission"),
    ("Enable-ExoOAuthMailboxProtocol", "Get-CASMailbox", "Set-CASMailbox"),
    ("Set-ExoOAuthTenantSmtpAuth", "Get-ExoOAuthTenantSmtpAuthDisabled", "Set-TransportConfig"),
])
def test_every_apply_change_is_guarded_by_a_lookup_and_an_early_return(function: str, guard: str, change: str) -> None:
    """Each apply step looks the current state up first and returns before changing anything when it is right."""
    apply = scripts(app_only(protocols=("imap", "smtp")), exchange=ExchangeConfig(tenant_smtp_auth="enable"))["apply"]
    order = _order(function, apply)
    assert order.index(guard) < order.index(change)
    body = text(module_functions()[function])
    assert body.index("return") < body.index(change)


@pytest.mark.parametrize(("function", "guard", "change"), [
    ("Unregister-ExoOAuthServicePrincipal", "Find-ExoOAuthServicePrincipal", "Remove-ServicePrincipal"),
    ("Revoke-ExoOAuthRight", "Get-ExoOAuthRight", "Remove-MailboxPermission"),
    ("Revoke-ExoOAuthRight", "Get-ExoOAuthRight", "Remove-RecipientPermission"),
])
def test_every_remove_change_is_guarded_by_a_lookup(function: str, guard: str, change: str) -> None:
    """Each remove step checks that the permission or service principal is there before removing it."""
    order = _order(function, scripts(app_only())["remove"])
    assert order.index(guard) < order.index(change)


def test_exchange_lookups_never_run_without_an_identity_and_keep_exact_matches_only() -> None:
    """Get-ServicePrincipal and Get-Mailbox always get -Identity, and their results are filtered by exact id."""
    apply = scripts(app_only())["apply"]
    reached = [module_functions()[name] for name in reached_commands(apply) if name in module_functions()]
    lookups = [c for function in reached for c in calls(function) if c.name in {"Get-ServicePrincipal", "Get-Mailbox",
                                                           "Get-RecipientPermission", "Get-MailboxPermission"}]
    assert {c.name for c in lookups} == {"Get-ServicePrincipal", "Get-Mailbox", "Get-RecipientPermission",
                                         "Get-MailboxPermission"}
    assert all(c.arguments.get("Identity") for c in lookups)
    found = module_function("Find-ExoOAuthServicePrincipal")
    assert "ValidatePattern('^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\\z')" in found
    assert 'Where-Object { "$($_.$By)" -eq $Id }' in found
    assert '-contains "smtp:$Address"' in module_function("Resolve-ExoOAuthMailbox")


def test_mismatched_service_principal_is_removed_then_recreated() -> None:
    """When AppId or ObjectId does not match, apply removes the stale service principal before New-ServicePrincipal."""
    order = _order("Register-ExoOAuthServicePrincipal", scripts(app_only())["apply"])
    assert order.index("Remove-ServicePrincipal") < order.index("New-ServicePrincipal")


def test_every_called_step_function_is_in_the_module_and_a_delegated_stack_registers_nothing() -> None:
    """Each ExoOAuth function a script calls is one the module exports.

    A delegated-only stack calls no step that touches an Exchange service principal or mailbox permission.
    """
    for mix in [(app_only(), delegated()), (delegated(),)]:
        for action, script in scripts(*mix).items():
            called = {c.name for c in calls(parse(script)) if "-ExoOAuth" in c.name}
            assert called <= module_exports(), action
    assert not commands_in(scripts(delegated())["apply"]) & {
        "Register-ExoOAuthServicePrincipal", "Grant-ExoOAuthRight", "New-ServicePrincipal", "Add-MailboxPermission"}


def test_scripts_require_powershell_7_and_exchange_module_3_and_stop_on_errors() -> None:
    """Each script starts with the #Requires lines, then param(), strict mode and stop-on-error before any step."""
    for script in scripts(app_only()).values():
        assert script.startswith("#Requires -Version 7.0\n#Requires -Modules @{ ModuleName = "
                                 "'ExchangeOnlineManagement'; ModuleVersion = '3.0.0'; MaximumVersion = '3.*' }\n")
        head = script[: script.index("\nImport-Module ")]
        assert "\nSet-StrictMode -Version Latest\n$ErrorActionPreference = 'Stop'\n" in head


def test_connection_defaults_come_from_the_stack_and_can_be_overridden_by_parameters() -> None:
    """The param() block defaults AppId, CertificateThumbprint and Organization to the stack's exchange settings."""
    exchange = ExchangeConfig(organization="contoso.onmicrosoft.com", app_id="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
                              certificate_thumbprint="0123456789ABCDEF0123456789ABCDEF01234567")
    for script in scripts(app_only(), exchange=exchange).values():
        params = text(next(n for n in parse(script).children if n.type == "param_block"))
        assert "[string] $AppId = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'" in params
        assert "[string] $CertificateThumbprint = '0123456789ABCDEF0123456789ABCDEF01234567'" in params
        assert "[string] $Organization = 'contoso.onmicrosoft.com'" in params
        assert "X509Certificate2] $Certificate" in params


def test_interactive_sign_in_is_the_default_and_the_tenant_is_checked_before_any_step() -> None:
    """Without exchange settings the app-only parameters default to '', and Connect-ExoOAuth checks the tenant."""
    apply = scripts(app_only())["apply"]
    assert "[string] $AppId = ''" in apply
    connect = module_function("Connect-ExoOAuth")
    assert "elseif ($connected -ne $TenantId)" in connect
    assert apply.index("Connect-ExoOAuth @signIn") < apply.index("Register-ExoOAuthServicePrincipal -App")
    assert "$TenantId = '11111111-2222-4333-8444-555555555555'" in apply


HOSTILE_NAMES = [
    "it's ‘quoted’ ‚low‛ \"double\"",
    "$(Remove-Item -Recurse -Force C:\\)",
    "`$(whoami)` ; Stop-Computer",
    "line one\nline two\r\n# comment?",
    "@'\nhere-string\n'@",
]
HOSTILE_MAILBOXES = ["o'brien@contoso.com", "o’brien@contoso.com", "a‘‛‚@contoso.com", "$x@contoso.com",
                     "back`tick@contoso.com", "{braces}|pipe@contoso.com"]
"""The stack config refuses non-ASCII mailboxes (docs/decisions/0053); the renderer still quotes any address."""


@pytest.mark.parametrize("display_name", HOSTILE_NAMES)
def test_hostile_values_stay_single_literal_arguments_in_every_script(display_name: str) -> None:
    """Quotes of every kind, $(...), backticks, newlines and ; stay inside one literal that reads back exactly."""
    app = app_only(displayName=display_name,
                   mailboxes=[{"address": m, "sendAs": True} for m in HOSTILE_MAILBOXES])
    for action, script in scripts(app).items():
        root = parse(script)
        assert syntax_problems(root) == [], action
        found = steps(script)
        mailboxes = [a["Mailbox"] for _, a in found if a.get("Right") == "FullAccess"]
        assert mailboxes == (HOSTILE_MAILBOXES[::-1] if action == "remove" else HOSTILE_MAILBOXES), action
        assert [a["DisplayName"] for _, a in found if "DisplayName" in a] == [display_name], action
        assert {c.name for c in calls(root)}.isdisjoint({"Remove-Item", "Stop-Computer", "whoami"}), action


@pytest.mark.parametrize(("change", "key_path"), [
    ({"clientId": "not-a-guid"}, "apps.scanners.clientId"),
    ({"servicePrincipalObjectId": "00000000-0000-0000-0000-00000000000g"}, "apps.scanners.servicePrincipalObjectId"),
    ({"servicePrincipalObjectId": None}, "apps.scanners.servicePrincipalObjectId"),
    ({"flow": "both"}, "apps.scanners.flow"),
    ({"protocols": ["imap4"]}, "apps.scanners.protocols[0]"),
    ({"protocols": []}, "apps.scanners.protocols"),
    ({"mailboxes": [{"address": "a;b@contoso.com", "sendAs": False}]}, "apps.scanners.mailboxes[0].address"),
    ({"mailboxes": [{"address": "a@contoso.com\n", "sendAs": False}]}, "apps.scanners.mailboxes[0].address"),
    ({"mailboxes": [{"address": "a@contoso.com", "sendAs": "yes"}]}, "apps.scanners.mailboxes[0].sendAs"),
    ({"displayName": ""}, "apps.scanners.displayName"),
])
def test_bad_output_values_are_rejected_naming_the_key_path(change: dict[str, Any], key_path: str) -> None:
    """A value that is not a GUID, address, known flow or protocol fails with the source and key path."""
    with pytest.raises(ConfigError) as raised:
        scripts(app_only() | change)
    assert raised.value.source == "stack outputs"
    assert raised.value.key_path == key_path


def test_bad_tenant_stack_name_and_app_name_are_rejected() -> None:
    """The tenant id must be a GUID, the stack and app names must be plain names."""
    with pytest.raises(ConfigError, match=r"^stack outputs: tenantId: 'contoso' is not a GUID"):
        exchange_inputs("test", "contoso", {}, ExchangeConfig())
    with pytest.raises(ConfigError, match=r"^stack outputs: stack: 'a b' is not a stack name"):
        exchange_inputs("a b", "11111111-2222-4333-8444-555555555555", {}, ExchangeConfig())
    with pytest.raises(ConfigError, match=r"^stack outputs: apps: 'x\\n' is not an app name"):
        inputs_for({"x\n": app_only()})


def test_example_stacks_render_scripts_without_parse_errors() -> None:
    """Both example stacks render three scripts that tree-sitter-powershell parses without ERROR or MISSING nodes."""
    for name in ("contoso", "fabrikam"):
        rendered = render_exchange_scripts(example(name)[1])
        assert list(rendered) == list(ACTIONS)
        for action, script in rendered.items():
            assert syntax_problems(parse(script)) == [], (name, action)
