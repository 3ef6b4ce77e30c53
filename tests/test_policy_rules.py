from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exo_domain.errors import ConfigError
from exo_oauth.policy import rules
from exo_oauth.policy.rules import PolicyConfig, evaluate, load_policy_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GRAPH = "00000003-0000-0000-c000-000000000000"
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
IMAP_ROLE = "5e5addcd-3e8d-4e90-baf5-964efab2b20a"
FULL_ACCESS_AS_APP = "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
GRAPH_MAIL_READ_ROLE = "810c84a8-4a9e-49e6-bf7d-12d183f40d01"
URN = "urn:pulumi:contoso::exo-oauth::exo-oauth:index:MailOAuthApp$azuread:index/application:Application::scanners-app"


def resource(type_token: str, inputs: dict[str, Any], name: str = "scanners-x") -> dict[str, Any]:
    """Return a resource as the offline plan records it."""
    return {"type": type_token, "name": name, "urn": f"urn:pulumi:contoso::exo-oauth::{type_token}::{name}",
            "inputs": inputs}


def app_inputs(**changes: Any) -> dict[str, Any]:
    """Return an app-only IMAP Application's wire inputs as the component sends them, with `changes` applied."""
    inputs: dict[str, Any] = {
        "displayName": "Contoso help desk",
        "signInAudience": "AzureADMyOrg",
        "owners": ["7d5c2a9e-1b3f-4e6d-8a0c-2f4b6d8e0a1c"],
        "requiredResourceAccesses": [
            {"resourceAppId": EXCHANGE, "resourceAccesses": [{"id": IMAP_ROLE, "type": "Role"}]},
        ],
        "fallbackPublicClientEnabled": False,
    }
    return inputs | changes


def password_inputs(days: float) -> dict[str, Any]:
    """Return an ApplicationPassword's wire inputs, ending `days` after NOW."""
    end = NOW + timedelta(days=days)
    return {"displayName": "exo-oauth x", "applicationId": "/applications/1", "endDate": end.isoformat()}


def messages(type_token: str, inputs: dict[str, Any], config: PolicyConfig | None = None, *,
             now: datetime = NOW) -> dict[str, list[str]]:
    """Return the violation messages per rule name for one resource, judged at `now`."""
    found: dict[str, list[str]] = {}
    for violation in evaluate([resource(type_token, inputs)], now, config):
        found.setdefault(violation.policy, []).append(violation.message)
    return found


COMPLIANT = [
    pytest.param(rules.APPLICATION, app_inputs(), id="app-only-application"),
    pytest.param(
        rules.APPLICATION,
        app_inputs(requiredResourceAccesses=[
            {"resourceAppId": EXCHANGE, "resourceAccesses": [
                {"id": "195adc35-e27b-454b-a7ed-1ecdffa1c09f", "type": "Scope"},
                {"id": "fb698133-92fa-453e-a9ed-688e10f2e5ac", "type": "Scope"},
                {"id": "76faac2a-0f20-42f1-928a-50de5b9dbe52", "type": "Scope"}]},
            {"resourceAppId": GRAPH, "resourceAccesses": [
                {"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"},
                {"id": "37f7f235-527c-4136-accd-4a02d197296e", "type": "Scope"},
                {"id": "14dad69e-099b-42c9-810b-d002981feec1", "type": "Scope"}]}],
            publicClient={"redirectUris": ["https://login.microsoftonline.com/common/oauth2/nativeclient"]}),
        id="delegated-application",
    ),
    pytest.param(rules.APP_ROLE_ASSIGNMENT, {"appRoleId": IMAP_ROLE, "principalObjectId": "p", "resourceObjectId": "r"},
                 id="imap-role-assignment"),
    pytest.param(rules.DELEGATED_GRANT, {"claimValues": ["IMAP.AccessAsUser.All", "POP.AccessAsUser.All", "SMTP.Send"],
                                         "resourceServicePrincipalObjectId": "r", "servicePrincipalObjectId": "p"},
                 id="exchange-delegated-grant"),
    pytest.param(rules.DELEGATED_GRANT, {"claimValues": ["offline_access", "openid", "profile"],
                                         "resourceServicePrincipalObjectId": "g", "servicePrincipalObjectId": "p"},
                 id="graph-sign-in-grant"),
    pytest.param(rules.APPLICATION, app_inputs(publicClient={"redirectUris": [
        "http://localhost", "http://127.0.0.1:53682/", "https://login.microsoftonline.com/common/oauth2/nativeclient"]}),
        id="loopback-on-public-client"),
    pytest.param(rules.APPLICATION_REDIRECT_URIS, {"type": "PublicClient", "redirectUris": ["http://localhost:8400"]},
                 id="split-loopback-public-client"),
    pytest.param(rules.APPLICATION_PASSWORD, password_inputs(180), id="secret-ending-in-180-days"),
    pytest.param(rules.APPLICATION_CERTIFICATE, password_inputs(90) | {"type": "AsymmetricX509Cert"},
                 id="certificate-ending-in-90-days"),
    pytest.param(rules.APPLICATION_API_ACCESS, {"apiClientId": EXCHANGE, "roleIds": [IMAP_ROLE], "scopeIds": []},
                 id="split-api-access"),
    pytest.param("azuread:index/servicePrincipal:ServicePrincipal", {"owners": []}, id="type-no-rule-judges"),
]


@pytest.mark.parametrize(("type_token", "inputs"), COMPLIANT)
def test_what_the_component_declares_passes_every_rule(type_token: str, inputs: dict[str, Any]) -> None:
    """Resources shaped as the component declares them, with only the mail permissions, raise no violation."""
    assert evaluate([resource(type_token, inputs)], NOW) == []


VIOLATIONS = [
    pytest.param(rules.APPLICATION, app_inputs(signInAudience="AzureADMultipleOrgs"), "single-tenant-app",
                 "signInAudience is 'AzureADMultipleOrgs'", id="multi-tenant-app"),
    pytest.param(rules.APPLICATION_REGISTRATION, {"signInAudience": "AzureADandPersonalMicrosoftAccount"},
                 "single-tenant-app", "'AzureADMyOrg'", id="multi-tenant-split-registration"),
    pytest.param(rules.APPLICATION,
                 app_inputs(requiredResourceAccesses=[{"resourceAppId": EXCHANGE, "resourceAccesses": [
                     {"id": IMAP_ROLE, "type": "Role"}, {"id": FULL_ACCESS_AS_APP, "type": "Role"}]}]),
                 "mail-permissions-only", "requests Office 365 Exchange Online full_access_as_app (application",
                 id="full-access-as-app-requested"),
    pytest.param(rules.APPLICATION,
                 app_inputs(requiredResourceAccesses=[{"resourceAppId": GRAPH, "resourceAccesses": [
                     {"id": "e383f46e-2787-4529-855e-0e479a3ffac0", "type": "Scope"}]}]),
                 "mail-permissions-only", "requests Microsoft Graph Mail.Send (delegated permission)",
                 id="graph-mail-send-requested"),
    pytest.param(rules.APPLICATION,
                 app_inputs(requiredResourceAccesses=[{"resourceAppId": GRAPH, "resourceAccesses": [
                     {"id": "652390e4-393a-48de-9484-05f9b1212954", "type": "Role"}]}]),
                 "mail-permissions-only", "Microsoft Graph IMAP.AccessAsUser.All (application permission)",
                 id="scope-id-requested-as-role"),
    pytest.param(rules.APPLICATION,
                 app_inputs(requiredResourceAccesses=[{"resourceAppId": "11111111-2222-3333-4444-555555555555",
                                                       "resourceAccesses": [{"id": IMAP_ROLE, "type": "Role"}]}]),
                 "mail-permissions-only", f"permission {IMAP_ROLE} of API 11111111-2222-3333-4444-555555555555",
                 id="third-party-api"),
    pytest.param(rules.APPLICATION_API_ACCESS, {"apiClientId": GRAPH, "roleIds": [GRAPH_MAIL_READ_ROLE]},
                 "mail-permissions-only", "Microsoft Graph Mail.Read (application permission)",
                 id="split-api-access-mail-read"),
    pytest.param(rules.APP_ROLE_ASSIGNMENT, {"appRoleId": FULL_ACCESS_AS_APP, "resourceObjectId": "r"},
                 "mail-permissions-only", "assigns (admin-consents) Office 365 Exchange Online full_access_as_app",
                 id="full-access-as-app-assigned"),
    pytest.param(rules.APP_ROLE_ASSIGNMENT, {"appRoleId": "00000000-0000-0000-0000-000000000000"},
                 "mail-permissions-only", "app role 00000000-0000-0000-0000-000000000000", id="unknown-role"),
    pytest.param(rules.DELEGATED_GRANT, {"claimValues": ["IMAP.AccessAsUser.All", "Mail.ReadWrite"]},
                 "mail-permissions-only", "the delegated permission 'Mail.ReadWrite'", id="mail-readwrite-granted"),
    pytest.param(rules.APPLICATION, app_inputs(web={"redirectUris": ["http://scanner.contoso.com/callback"]}),
                 "https-redirect-uris", "web.redirectUris has 'http://scanner.contoso.com/callback'",
                 id="http-web-redirect"),
    pytest.param(rules.APPLICATION, app_inputs(publicClient={"redirectUris": ["ms-appx-web://x"]}),
                 "https-redirect-uris", "publicClient.redirectUris has 'ms-appx-web://x'", id="custom-scheme"),
    pytest.param(rules.APPLICATION, app_inputs(web={"redirectUris": ["http://localhost:8400/"]}),
                 "https-redirect-uris", "web.redirectUris has 'http://localhost:8400/', which is a loopback http:// "
                 "URI on a confidential client", id="loopback-on-web-platform"),
    pytest.param(rules.APPLICATION, app_inputs(publicClient={"redirectUris": ["http://mail.contoso.com/"]}),
                 "https-redirect-uris", "publicClient.redirectUris has 'http://mail.contoso.com/', which is an "
                 "http:// URI on a host other than localhost or 127.0.0.1", id="http-non-loopback-public-client"),
    pytest.param(rules.APPLICATION, app_inputs(publicClient={"redirectUris": ["http://[::1]/"]}),
                 "https-redirect-uris", "which uses the IPv6 loopback address [::1]", id="ipv6-loopback"),
    pytest.param(rules.APPLICATION_REDIRECT_URIS, {"type": "SPA", "redirectUris": ["http://localhost:3000"]},
                 "https-redirect-uris", "redirectUris (SPA) has 'http://localhost:3000'", id="split-redirect-uris"),
    pytest.param(rules.APPLICATION, app_inputs(owners=[]), "app-owners-set", "has no owners", id="empty-owners"),
    pytest.param(rules.APPLICATION, {k: v for k, v in app_inputs().items() if k != "owners"}, "app-owners-set",
                 "has no owners", id="owners-absent"),
    pytest.param(rules.APPLICATION_PASSWORD, password_inputs(181 + 0.6), "credential-max-lifetime",
                 "lives 182 days, 2026-11-28 to 2027-05-29 (by UTC day), longer than the allowed 180 days",
                 id="secret-ending-in-181-days"),
    pytest.param(rules.APPLICATION_CERTIFICATE, {"type": "AsymmetricX509Cert", "value": "-----BEGIN CERTIFICATE-----"},
                 "credential-max-lifetime", "sets no endDate", id="certificate-without-end-date"),
    pytest.param(rules.APPLICATION_PASSWORD, {"endDate": "next spring"}, "credential-max-lifetime",
                 "has endDate 'next spring', which is not an RFC 3339 time", id="unparseable-end-date"),
    pytest.param(rules.APPLICATION_PASSWORD, password_inputs(12), "credential-expires-soon",
                 "expires on 2026-12-10, in 12 days", id="secret-ending-in-12-days"),
    pytest.param(rules.APPLICATION_CERTIFICATE, password_inputs(-3), "credential-expires-soon",
                 "expired on 2026-11-25", id="certificate-expired"),
]


@pytest.mark.parametrize(("type_token", "inputs", "policy", "fragment"), VIOLATIONS)
def test_each_rule_names_what_is_wrong(type_token: str, inputs: dict[str, Any], policy: str, fragment: str) -> None:
    """Each breach is reported by its rule alone, with a message naming the offending value and a Learn link."""
    found = messages(type_token, inputs)
    assert list(found) == [policy]
    (message,) = found[policy]
    assert fragment in message
    assert f"See {rules.RULES_BY_NAME[policy].url}" in message
    assert rules.RULES_BY_NAME[policy].url.startswith("https://learn.microsoft.com/")


def test_every_rule_has_a_kebab_case_name_and_one_sentence_description() -> None:
    """Rule names are unique kebab-case ids and each description is a single sentence."""
    names = [rule.name for rule in rules.RULES]
    assert len(set(names)) == len(names)
    for rule in rules.RULES:
        assert rule.name.replace("-", "").isalpha()
        assert rule.name == rule.name.lower()
        assert rule.description.endswith(".")
        assert ". " not in rule.description


def test_each_breach_of_one_application_is_reported_separately() -> None:
    """An app breaking several rules gets one violation per breach, in rule order, each with the app's URN."""
    inputs = app_inputs(
        signInAudience="AzureADMultipleOrgs",
        owners=[],
        web={"redirectUris": ["http://a.example/cb", "https://b.example/cb", "http://c.example/cb"]},
        requiredResourceAccesses=[{"resourceAppId": EXCHANGE, "resourceAccesses": [
            {"id": FULL_ACCESS_AS_APP, "type": "Role"},
            {"id": "dc50a0fb-09a3-484d-be87-e023b12c6440", "type": "Role"},
        ]}],
    )
    found = evaluate([resource(rules.APPLICATION, inputs, name="bad-app")], NOW)
    assert [v.policy for v in found] == ["single-tenant-app", "mail-permissions-only", "mail-permissions-only",
                                         "https-redirect-uris", "https-redirect-uris", "app-owners-set"]
    assert "Exchange.ManageAsApp" in found[2].message
    assert {v.urn for v in found} == {f"urn:pulumi:contoso::exo-oauth::{rules.APPLICATION}::bad-app"}
    assert {v.level for v in found} == {"mandatory"}


def test_violation_json_has_the_keys_the_plan_renders() -> None:
    """Violation.to_json gives policy, level, urn, message and key, the shape `exo-oauth plan` prints and exits 3 on."""
    (violation,) = evaluate([resource(rules.APPLICATION, app_inputs(owners=[]))], NOW)
    assert violation.to_json() == {"policy": "app-owners-set", "level": "mandatory", "urn": violation.urn,
                                   "message": violation.message, "key": None, "app": None, "resource": None}


def test_expiry_warning_is_advisory_and_lifetime_breach_is_mandatory() -> None:
    """A secret ending soon yields an advisory violation; one ending too late a mandatory one."""
    soon = evaluate([resource(rules.APPLICATION_PASSWORD, password_inputs(5))], NOW)
    late = evaluate([resource(rules.APPLICATION_PASSWORD, password_inputs(400))], NOW)
    assert [(v.policy, v.level) for v in soon] == [("credential-expires-soon", "advisory")]
    assert [(v.policy, v.level) for v in late] == [("credential-max-lifetime", "mandatory")]


def test_lifetime_is_judged_by_utc_calendar_day() -> None:
    """An end date a few hours past now + maxDays, on the same UTC day, passes; the next day does not."""
    same_day = NOW.replace(hour=23) + timedelta(days=180)
    next_day = NOW.replace(hour=0) + timedelta(days=181)
    assert evaluate([resource(rules.APPLICATION_PASSWORD, {"endDate": same_day.isoformat()})], NOW) == []
    assert messages(rules.APPLICATION_PASSWORD, {"endDate": next_day.isoformat()}).keys() == {"credential-max-lifetime"}


def test_end_date_with_zulu_suffix_or_offset_is_understood() -> None:
    """RFC 3339 end dates in Z form and with an offset are compared in UTC; a naive `now` counts as UTC."""
    naive_now = NOW.replace(tzinfo=None)
    zulu = {"endDate": "2027-05-27T01:22:13Z"}
    offset = {"endDate": "2027-05-28T01:00:00+02:00"}
    assert evaluate([resource(rules.APPLICATION_PASSWORD, zulu)], naive_now) == []
    assert evaluate([resource(rules.APPLICATION_PASSWORD, offset)], naive_now) == []


def test_configured_days_change_both_credential_rules() -> None:
    """The configured maxDays and warnDays move the limits of both credential rules."""
    config = PolicyConfig(max_credential_days=90, expiry_warning_days=100)
    found = messages(rules.APPLICATION_PASSWORD, password_inputs(95), config)
    assert found.keys() == {"credential-max-lifetime", "credential-expires-soon"}
    assert "longer than the allowed 90 days" in found["credential-max-lifetime"][0]


def test_configured_levels_demote_or_disable_rules() -> None:
    """A level in the config replaces the rule's own; `disabled` skips the rule."""
    inputs = app_inputs(owners=[], signInAudience="AzureADMultipleOrgs")
    config = PolicyConfig(levels={"app-owners-set": "advisory", "single-tenant-app": "disabled"})
    found = evaluate([resource(rules.APPLICATION, inputs)], NOW, config)
    assert [(v.policy, v.level) for v in found] == [("app-owners-set", "advisory")]


def test_evaluate_leaves_the_inputs_untouched() -> None:
    """Evaluating does not change the plan's recorded inputs."""
    inputs = app_inputs(owners=[])
    before = copy.deepcopy(inputs)
    evaluate([resource(rules.APPLICATION, inputs)], NOW)
    assert inputs == before


def test_allowed_permissions_are_exactly_what_the_component_requests() -> None:
    """Allowed: Exchange Online's three roles and three mail scopes, Graph's offline_access, openid and profile."""
    roles = {IMAP_ROLE, "cb842b43-da6e-4506-86fe-bb12199c656d", "7146a1f0-8703-45b3-9eae-527a64c00995"}
    assert roles == rules.ALLOWED_ROLE_IDS
    assert rules.ALLOWED_PERMISSIONS[(EXCHANGE, "Scope")] == {
        "195adc35-e27b-454b-a7ed-1ecdffa1c09f": "IMAP.AccessAsUser.All",
        "fb698133-92fa-453e-a9ed-688e10f2e5ac": "POP.AccessAsUser.All",
        "76faac2a-0f20-42f1-928a-50de5b9dbe52": "SMTP.Send"}
    assert rules.ALLOWED_PERMISSIONS[(GRAPH, "Scope")] == {
        "7427e0e9-2fba-42fe-b0c0-848c9e6a8182": "offline_access",
        "37f7f235-527c-4136-accd-4a02d197296e": "openid",
        "14dad69e-099b-42c9-810b-d002981feec1": "profile"}
    assert set(rules.ALLOWED_PERMISSIONS) == {(EXCHANGE, "Role"), (EXCHANGE, "Scope"), (GRAPH, "Scope")}


def test_graph_copies_of_the_mail_scopes_are_refused() -> None:
    """Graph's IMAP.AccessAsUser.All does not cover outlook.office.com tokens, so requesting it is a violation."""
    graph_imap = app_inputs(requiredResourceAccesses=[{"resourceAppId": GRAPH, "resourceAccesses": [
        {"id": "652390e4-393a-48de-9484-05f9b1212954", "type": "Scope"}]}])
    found = messages(rules.APPLICATION, graph_imap)["mail-permissions-only"]
    assert len(found) == 1
    assert found[0].startswith("requests Microsoft Graph IMAP.AccessAsUser.All (delegated permission)")
    assert "IMAP.AccessAsUser.All, POP.AccessAsUser.All, SMTP.Send (Office 365 Exchange Online delegated" in found[0]


def test_policy_config_file_sets_levels_and_days() -> None:
    """A --policy-pack-config document sets days and levels; a rule's own level wins over `all`."""
    config = load_policy_config({
        "all": "advisory",
        "credential-max-lifetime": {"enforcementLevel": "mandatory", "maxDays": 90.0},
        "credential-expires-soon": {"warnDays": 14},
        "app-owners-set": "disabled",
    }, "policy-config.json")
    assert config.max_credential_days == 90
    assert config.expiry_warning_days == 14
    assert config.levels["credential-max-lifetime"] == "mandatory"
    assert config.levels["app-owners-set"] == "disabled"
    assert config.levels["single-tenant-app"] == "advisory"


def test_empty_policy_config_file_keeps_the_defaults() -> None:
    """An empty document means every rule at its own level with the default days."""
    assert load_policy_config({}, "policy-config.json") == PolicyConfig()


@pytest.mark.parametrize(("document", "key_path", "problem"), [
    pytest.param([], "(file)", "is not a JSON object", id="not-an-object"),
    pytest.param({"no-such-rule": "mandatory"}, "no-such-rule", "unknown policy; allowed: all, single-tenant-app",
                 id="unknown-policy"),
    pytest.param({"all": "remediate"}, "all", "'remediate' is not an enforcement level; allowed: mandatory, "
                 "advisory, disabled", id="remediate-level"),
    pytest.param({"app-owners-set": {"enforcementLevel": 3}}, "app-owners-set.enforcementLevel",
                 "int is not an enforcement level", id="level-not-a-string"),
    pytest.param({"credential-max-lifetime": {"maxDays": 0}}, "credential-max-lifetime.maxDays",
                 "0 is out of range; allowed: 1 to 3650", id="days-out-of-range"),
    pytest.param({"credential-max-lifetime": {"maxDays": "90"}}, "credential-max-lifetime.maxDays",
                 "'90' is not a whole number", id="days-as-text"),
    pytest.param({"credential-expires-soon": {"warnDays": 7.5}}, "credential-expires-soon.warnDays",
                 "7.5 is not a whole number; allowed: 1 to 365", id="fractional-days"),
    pytest.param({"credential-expires-soon": {"maxDays": 7}}, "credential-expires-soon.maxDays",
                 "unknown key; allowed: enforcementLevel, warnDays", id="setting-of-another-rule"),
])
def test_bad_policy_config_names_file_key_and_allowed_values(document: Any, key_path: str, problem: str) -> None:
    """A wrong policy config raises one ConfigError naming the file, the key path and what is allowed."""
    with pytest.raises(ConfigError) as raised:
        load_policy_config(document, "policy-config.json")
    assert raised.value.source == "policy-config.json"
    assert raised.value.key_path == key_path
    assert problem in raised.value.problem


def test_docs_rules_table_lists_every_rule_with_its_level() -> None:
    """The policy table in docs/ci-and-fleet.md has a row per rule, naming its default enforcement level."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "ci-and-fleet.md").read_text(encoding="utf-8")
    for rule in rules.RULES:
        assert f"| `{rule.name}` | {rule.level} |" in page, rule.name



def test_lifetime_message_counts_the_days_given_and_names_the_stack_key() -> None:
    """A secret made a moment before the check for 365 days is 365 days away, and lifetimeDays is the key to change."""
    inputs = password_inputs(365) | {"endDate": (NOW + timedelta(days=365, minutes=-5)).isoformat()}
    (message,) = messages(rules.APPLICATION_PASSWORD, inputs)["credential-max-lifetime"]
    assert "lives 365 days, 2026-11-28 to 2027-11-28 (by UTC day), longer than the allowed 180 days" in message
    assert "lower credential.lifetimeDays of this app in the stack file to at most 180" in message
    assert "endDate" not in message.split(";", 1)[1]


@pytest.mark.parametrize("lifetime", [180, 181, 365])
def test_lifetime_verdict_is_end_minus_start_whatever_day_the_pack_runs(lifetime: int) -> None:
    """A secret with a startDate is judged by its whole lifetime: the same verdict on its first day and on its last."""
    start = datetime(2027, 3, 1, tzinfo=UTC)
    inputs = {"startDate": start.isoformat(), "endDate": (start + timedelta(days=lifetime)).isoformat()}
    verdicts = {"credential-max-lifetime" in messages(rules.APPLICATION_PASSWORD, inputs,
                                                      now=start + timedelta(days=day))
                for day in range(-30, lifetime + 30, 7)}
    assert verdicts == {lifetime > rules.DEFAULT_MAX_CREDENTIAL_DAYS}


def test_unreadable_start_date_is_named() -> None:
    """A startDate that is not RFC 3339 is reported as such, not taken as now."""
    inputs = password_inputs(30) | {"startDate": "last spring"}
    (message,) = messages(rules.APPLICATION_PASSWORD, inputs)["credential-max-lifetime"]
    assert "has startDate 'last spring', which is not an RFC 3339 time" in message
