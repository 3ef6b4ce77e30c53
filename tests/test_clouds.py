"""`exo-oauth:cloud`: one table of Microsoft facts per cloud, read by the program, verify and diagnosis alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pulumi
import pytest

from exo_domain.config import PROTOCOLS, parse_stack_config
from exo_domain.errors import ConfigError
from exo_domain.microsoft import CLOUDS as FACTS
from exo_domain.microsoft import PROTOCOLS as PROTOCOL_FACTS
from exo_oauth.fleet.project import LoadedStack
from exo_oauth.plan.offline import plan_stack
from exo_oauth.verify.clouds import CLOUDS, SECURITY
from exo_oauth.verify.diagnosis import CAS_SWITCHES, PROTOCOL_NAMES
from tests.sources import source_files
from tests.stack_factory import REPO, app, loaded, raw_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SOURCE = "stacks/Pulumi.gov.yaml"


def test_usgov_stack_plans_with_gcc_high_hosts_in_scopes_endpoints_and_consent_url() -> None:
    """cloud: usgov gives outlook.office365.us scopes and endpoints, and login.microsoftonline.us for consent."""
    raw = raw_config(app("app-only", ("imap", "smtp"), name="a"), app("delegated", ("imap",), name="d"),
                     **{"exo-oauth:cloud": "usgov", "azuread:environment": "usgovernmentl4"})
    apps = plan_stack(REPO, loaded(raw, "gov"), NOW).outputs["apps"]
    assert apps["a"]["cloud"] == "usgov"
    assert apps["a"]["scopes"] == ["https://outlook.office365.us/.default"]
    assert apps["d"]["scopes"] == ["https://outlook.office365.us/IMAP.AccessAsUser.All", "offline_access"]
    assert apps["a"]["endpoints"] == {"imap": {"host": "outlook.office365.us", "port": 993, "security": "tls"},
                                      "smtp": {"host": "outlook.office365.us", "port": 587, "security": "starttls"}}
    assert apps["a"]["adminConsentUrl"].startswith("https://login.microsoftonline.us/")
    assert apps["a"]["adminConsentUrl"].endswith("scope=https%3A%2F%2Foutlook.office365.us%2F.default")
    assert apps["d"]["adminConsentUrl"].endswith("scope=https%3A%2F%2Foutlook.office365.us%2F.default")


def test_without_the_key_the_stack_is_global() -> None:
    """No exo-oauth:cloud and no azuread:environment: the global cloud, as before the key existed."""
    assert parse_stack_config(raw_config(app()), SOURCE).cloud == "global"
    raw = raw_config(app(), **{"azuread:environment": "public"})
    assert parse_stack_config(raw, SOURCE).cloud == "global"


@pytest.mark.parametrize(("cloud", "environment", "message"), [
    ("usgov", None, "exo-oauth:cloud: 'usgov' needs azuread:environment: usgovernmentl4, but neither "
                    "azuread:environment nor ARM_ENVIRONMENT is set (the provider then uses global); allowed: "
                    "exo-oauth:cloud and the provider's environment (azuread:environment, else ARM_ENVIRONMENT) "
                    "naming the same cloud"),
    ("usgov-dod", "usgovernmentl4", "exo-oauth:cloud: 'usgov-dod' needs azuread:environment: usgovernmentl5, but "
                                    "azuread:environment is 'usgovernmentl4'"),
    (None, "china", "exo-oauth:cloud: 'global' needs azuread:environment: global, but azuread:environment is "
                    "'china'"),
    ("gcc", None, "exo-oauth:cloud: 'gcc' is not allowed; allowed: global, usgov, usgov-dod, china"),
])
def test_cloud_and_azuread_environment_must_agree(cloud: str | None, environment: str | None, message: str) -> None:
    """A stack whose two cloud keys disagree stops with one line naming both keys."""
    extra = {k: v for k, v in (("exo-oauth:cloud", cloud), ("azuread:environment", environment)) if v is not None}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw_config(app(), **extra), SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: {message}")
    assert "\n" not in str(caught.value)


def test_arm_environment_is_the_providers_cloud_when_the_key_is_absent() -> None:
    """Like the azuread provider, ARM_ENVIRONMENT stands in for a missing azuread:environment, both ways."""
    gov = raw_config(app(), **{"exo-oauth:cloud": "usgov"})
    assert parse_stack_config(gov, SOURCE, arm_environment="usgovernmentl4").cloud == "usgov"
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw_config(app()), SOURCE, arm_environment="usgovernment")
    assert str(caught.value).startswith(
        f"{SOURCE}: exo-oauth:cloud: 'global' needs azuread:environment: global, but ARM_ENVIRONMENT (environment "
        "variable; azuread:environment is not set) is 'usgovernment'")
    keyed = raw_config(app(), **{"azuread:environment": "public"})
    assert parse_stack_config(keyed, SOURCE, arm_environment="usgovernment").cloud == "global"


def test_the_program_reads_arm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GCC High pipeline that sets only ARM_ENVIRONMENT plans; a global stack under it is refused."""
    gov = raw_config(app(name="a"), **{"exo-oauth:cloud": "usgov"})
    stack = LoadedStack("gov", REPO / SOURCE, gov, parse_stack_config(gov, SOURCE, arm_environment="usgovernmentl4"))
    monkeypatch.setenv("ARM_ENVIRONMENT", "usgovernmentl4")
    assert plan_stack(REPO, stack, NOW).outputs["apps"]["a"]["cloud"] == "usgov"
    monkeypatch.setenv("ARM_ENVIRONMENT", "usgovernment")
    with pytest.raises(pulumi.RunError, match=r"ARM_ENVIRONMENT \(environment variable"):
        plan_stack(REPO, loaded(raw_config(app(name="a")), "gov"), NOW)


def test_a_custom_cloud_metadata_host_is_refused() -> None:
    """azuread:metadataHost points the provider at a cloud exo-oauth has no facts for: one line refuses it."""
    raw = raw_config(app(), **{"azuread:metadataHost": "login.example.invalid"})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: azuread:metadataHost: custom clouds are not supported")


def test_the_schema_lists_every_azuread_environment_of_the_facts_table() -> None:
    """stack-config.schema.json's azuread:environment enum is exactly the facts table's values."""
    schema = json.loads((REPO / "stack-config.schema.json").read_text(encoding="utf-8"))
    listed = schema["properties"]["config"]["properties"]["azuread:environment"]["enum"]
    assert listed == [name for cloud in FACTS.values() for name in cloud.azuread_environments]


@pytest.mark.parametrize("cloud", list(FACTS))
def test_every_cloud_accepts_its_canonical_azuread_environment(cloud: str) -> None:
    """Each cloud plans with the azuread environment the facts table names for it."""
    raw = raw_config(app(), **{"exo-oauth:cloud": cloud, "azuread:environment": FACTS[cloud].azuread_environments[0]})
    assert parse_stack_config(raw, SOURCE).cloud == cloud


def test_verify_and_diagnosis_read_the_one_table() -> None:
    """The clouds of verify and the tables of diagnosis are the facts module's, not copies."""
    assert set(CLOUDS) == set(FACTS)
    for name, facts in FACTS.items():
        cloud = CLOUDS[name]
        assert (cloud.login_host, cloud.exchange_resource, cloud.delegated_resource) == (
            facts.login_host, facts.exchange_resource, facts.delegated_resource)
        assert {p: (e.host, e.port) for p, e in cloud.endpoints.items()} == {
            p.name: (facts.mail_host(p.name), p.port) for p in PROTOCOL_FACTS}
    assert tuple(p.name for p in PROTOCOL_FACTS) == PROTOCOLS
    assert PROTOCOL_NAMES == {"imap": "IMAP", "pop": "POP", "smtp": "SMTP"}
    assert CAS_SWITCHES["smtp"] == "SmtpClientAuthenticationDisabled"
    assert SECURITY == {"imap": "tls", "pop": "tls", "smtp": "starttls"}


def test_no_other_module_restates_a_cloud_host_or_first_party_id() -> None:
    """Hosts, resources and first-party app IDs appear as code only in exo_domain/microsoft.py."""
    facts = {h.split("//")[-1] for c in FACTS.values() for h in (c.login_host, c.graph_host, c.exchange_resource)}
    facts |= {"00000002-0000-0ff1-ce00-000000000000", "00000003-0000-0000-c000-000000000000"}
    for source in source_files():
        if source.name in ("microsoft.py", "exchange_scripts.py"):
            continue
        code = "\n".join(line for line in source.read_text(encoding="utf-8").splitlines()
                         if '"' in line and not line.lstrip().startswith(("#", '"""')))
        for fact in facts:
            assert f'"{fact}' not in code, (source, fact)
            assert f"//{fact}" not in code, (source, fact)


def test_each_check_is_chosen_by_the_security_microsofts_facts_give_its_protocol() -> None:
    """checks.py reads SECURITY: a protocol whose fact named another security would find no check, named."""
    from exo_oauth.verify.checks import CHECKS, IMPLEMENTED, checks_for  # noqa: PLC0415 - loads the mail libraries

    assert {protocol: IMPLEMENTED[(protocol, mode)] for protocol, mode in SECURITY.items()} == CHECKS
    with pytest.raises(LookupError, match="no check for smtp over tls; checks exist for imap over tls, pop over tls, "
                                          "smtp over starttls"):
        checks_for({**SECURITY, "smtp": "tls"})


@pytest.mark.parametrize(("cloud", "environment"), [("global", "Public"), ("usgov", "USGovernmentL4"),
                                                    ("usgov-dod", "DoD"), ("china", "CHINA")])
def test_azuread_environment_is_compared_without_regard_to_case(cloud: str, environment: str) -> None:
    """The provider lower-cases the name (go-azure-sdk environments.FromName, terraform-provider-azuread v3.9.0)."""
    raw = raw_config(app(), **{"exo-oauth:cloud": cloud, "azuread:environment": environment})
    assert parse_stack_config(raw, SOURCE).cloud == cloud
