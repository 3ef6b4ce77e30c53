from __future__ import annotations

import runpy
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from exo_oauth.policy import rules
from exo_oauth.policy.pack import PACK_NAME, resource_policies, validator

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
FULL_ACCESS_AS_APP = "dc890d15-9560-4a4c-9b7f-a736ec74ec40"
IMAP_ROLE = "5e5addcd-3e8d-4e90-baf5-964efab2b20a"


def args(type_token: str, props: dict[str, Any], config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    """Build the arguments the engine passes a validator, props wrapped in the engine's unknown-checking proxy."""
    return ResourceValidationArgs(
        resource_type=type_token,
        props=unknown_checking_proxy(props),
        urn=f"urn:pulumi:contoso::exo-oauth::{type_token}::x",
        name="x",
        opts=PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                   custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[]),
        provider=None,
        config=config,
    )


def reported(rule_name: str, validation_args: ResourceValidationArgs) -> list[str]:
    """Run one rule's pack validator at NOW and return what it reported."""
    found: list[str] = []

    def report_violation(message: str, urn: str | None = None) -> None:
        found.append(message)

    validator(rules.RULES_BY_NAME[rule_name], clock=lambda: NOW)(validation_args, report_violation)
    return found


def end_date(days: int) -> str:
    """Return an RFC 3339 end date `days` after NOW."""
    return (NOW + timedelta(days=days)).isoformat().replace("+00:00", "Z")


APP = {
    "signInAudience": "AzureADMyOrg",
    "owners": ["o"],
    "requiredResourceAccesses": [{"resourceAppId": EXCHANGE, "resourceAccesses": [{"id": IMAP_ROLE, "type": "Role"}]}],
}


@pytest.mark.parametrize(("rule_name", "type_token", "bad", "good", "fragment"), [
    pytest.param("single-tenant-app", rules.APPLICATION, APP | {"signInAudience": "AzureADMultipleOrgs"}, APP,
                 "signInAudience is 'AzureADMultipleOrgs'", id="single-tenant-app"),
    pytest.param("mail-permissions-only", rules.APPLICATION,
                 APP | {"requiredResourceAccesses": [{"resourceAppId": EXCHANGE, "resourceAccesses": [
                     {"id": FULL_ACCESS_AS_APP, "type": "Role"}]}]}, APP,
                 "Office 365 Exchange Online full_access_as_app", id="mail-permissions-only-requested"),
    pytest.param("mail-permissions-only", rules.APP_ROLE_ASSIGNMENT, {"appRoleId": FULL_ACCESS_AS_APP},
                 {"appRoleId": IMAP_ROLE}, "assigns (admin-consents)", id="mail-permissions-only-assigned"),
    pytest.param("mail-permissions-only", rules.DELEGATED_GRANT, {"claimValues": ["SMTP.Send", "Mail.Read"]},
                 {"claimValues": ["SMTP.Send", "offline_access"]}, "'Mail.Read'", id="mail-permissions-only-granted"),
    pytest.param("https-redirect-uris", rules.APPLICATION, APP | {"web": {"redirectUris": ["http://x.example/"]}},
                 APP | {"web": {"redirectUris": ["https://x.example/"]}}, "'http://x.example/'",
                 id="https-redirect-uris"),
    pytest.param("app-owners-set", rules.APPLICATION, APP | {"owners": []}, APP, "has no owners", id="app-owners-set"),
    pytest.param("credential-max-lifetime", rules.APPLICATION_PASSWORD, {"endDate": end_date(365)},
                 {"endDate": end_date(180)}, "lives 365 days", id="credential-max-lifetime"),
    pytest.param("credential-max-lifetime", rules.APPLICATION_PASSWORD,
                 {"startDate": end_date(-300), "endDate": end_date(65)},
                 {"startDate": end_date(-100), "endDate": end_date(80)}, "lives 365 days",
                 id="credential-max-lifetime-judges-start-to-end-not-days-left"),
    pytest.param("credential-expires-soon", rules.APPLICATION_CERTIFICATE, {"endDate": end_date(10)},
                 {"endDate": end_date(31)}, "in 10 days", id="credential-expires-soon"),
])
def test_pack_validator_reports_the_breach_and_passes_the_fix(
    rule_name: str, type_token: str, bad: dict[str, Any], good: dict[str, Any], fragment: str
) -> None:
    """Each pack validator reports one message for the bad resource and nothing for the corrected one."""
    (message,) = reported(rule_name, args(type_token, bad))
    assert fragment in message
    assert message.endswith(f"See {rules.RULES_BY_NAME[rule_name].url}")
    assert reported(rule_name, args(type_token, good)) == []


def test_pack_validator_ignores_types_its_rule_does_not_judge() -> None:
    """A validator given another resource type reports nothing, whatever the props say."""
    service_principal = args("azuread:index/servicePrincipal:ServicePrincipal", {"owners": []})
    assert reported("app-owners-set", service_principal) == []


def test_pack_config_numbers_from_the_engine_set_the_limits() -> None:
    """The engine's policy config (JSON numbers as floats) sets maxDays and warnDays for the pack's validators."""
    secret = {"endDate": end_date(120)}
    assert reported("credential-max-lifetime", args(rules.APPLICATION_PASSWORD, secret)) == []
    assert reported("credential-max-lifetime", args(rules.APPLICATION_PASSWORD, secret, {"maxDays": 90.0}))
    assert reported("credential-expires-soon", args(rules.APPLICATION_PASSWORD, secret, {"warnDays": 150.0}))


def test_unknown_value_during_preview_is_not_a_pass() -> None:
    """A credential whose endDate is unknown during preview raises UnknownValueError for the engine to report."""
    secret = args(rules.APPLICATION_PASSWORD, {"endDate": UNKNOWN_STRING_VALUE})
    with pytest.raises(UnknownValueError):
        reported("credential-max-lifetime", secret)


def test_unknown_value_a_rule_does_not_read_does_not_stop_it() -> None:
    """An unknown input the rule does not judge (an owner's object id) does not keep the rule from judging."""
    app = APP | {"owners": [UNKNOWN_STRING_VALUE], "signInAudience": "AzureADMultipleOrgs"}
    assert reported("single-tenant-app", args(rules.APPLICATION, app))
    assert reported("app-owners-set", args(rules.APPLICATION, app)) == []


def test_pack_has_one_policy_per_rule_with_its_level_link_and_schema() -> None:
    """resource_policies mirrors RULES: names, descriptions, levels, Learn links and config schemas with defaults."""
    policies = resource_policies()
    assert [p.name for p in policies] == [r.name for r in rules.RULES]
    for policy, rule in zip(policies, rules.RULES, strict=True):
        assert isinstance(policy, ResourceValidationPolicy)
        assert policy.description == rule.description
        assert policy.enforcement_level == EnforcementLevel(rule.level)
        assert policy.url == rule.url
    schemas = {p.name: p.config_schema.properties for p in policies if p.config_schema is not None}
    assert schemas["credential-max-lifetime"]["maxDays"]["default"] == 180
    assert schemas["credential-expires-soon"]["warnDays"]["default"] == 30
    assert schemas.keys() == {"credential-max-lifetime", "credential-expires-soon"}


def test_pack_entry_point_builds_the_pack_from_the_installed_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """policy/__main__.py, run as the engine runs it, hands PolicyPack every policy under the pack's name.

    It imports the installed project as it is: no path of its own is put on sys.path.
    """
    built: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.append(kwargs))
    before = list(sys.path)
    runpy.run_path(str(ROOT / "policy"), run_name="__main__")
    (pack,) = built
    assert pack["name"] == PACK_NAME
    assert [p.name for p in pack["policies"]] == [r.name for r in rules.RULES]
    assert sys.path == before


def test_pack_files_declare_a_python_pack_with_the_policy_sdk() -> None:
    """PulumiPolicy.yaml runs the pack with Python in its own virtualenv; requirements.txt installs pulumi-policy."""
    project = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    requirements = (ROOT / "policy" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("pulumi-policy>=") for line in requirements)


def test_pack_virtualenv_gets_the_project_from_this_checkout() -> None:
    """requirements.txt installs the project from the folder above the pack, and CI installs it from the pack's folder.

    pip reads a local path in a requirements file relative to its working directory, so `-e ..` names this
    checkout only when pip runs in policy/: the setup action does exactly that.
    """
    requirements = (ROOT / "policy" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    (project,) = [line.split(maxsplit=1)[1] for line in requirements if line.startswith("-e ")]
    assert (ROOT / "policy" / project).resolve() == ROOT
    setup = yaml.safe_load((ROOT / ".github" / "actions" / "setup" / "action.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in setup["runs"]["steps"] if "policy/venv" in s.get("name", "")]
    assert "cd policy && " in step["run"]
    assert "-r requirements.txt" in step["run"]
