"""Stack config validation: every bad input stops with one line naming the file, the key path and what is allowed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from exo_domain.config import parse_stack_config
from exo_domain.errors import ConfigError
from exo_domain.schema import DEFAULT_LIFETIME_DAYS
from tests.certificates import make_certificate_pem
from tests.config_helpers import NOW, SOURCE, parse, with_app
from tests.stack_factory import app, raw_config


def without(key: str) -> dict[str, Any]:
    """Return a stack with one app that lacks `key`."""
    entry = app()
    del entry[key]
    return raw_config(entry)


def second_app(**overrides: Any) -> dict[str, Any]:
    """Return a stack with a valid first app and a second app changed by `overrides`."""
    return raw_config(app(name="first"), app(name="second", **overrides))


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown app key", with_app(protocol=["imap"]), "exo-oauth:apps[0]", "unknown key 'protocol'; allowed: name,"),
    ("unknown project key", raw_config(app()) | {"exo-oauth:appz": []}, "exo-oauth:appz",
     "unknown key, did you mean exo-oauth:apps?; allowed: exo-oauth:apps, exo-oauth:exchange"),
    ("mistyped tenant key", {"azuread:tenantID": "11111111-2222-4333-8444-555555555555",
                             "exo-oauth:apps": []}, "azuread:tenantID", "unknown key, did you mean azuread:tenantId?"),
    ("mistyped namespace", {"azuread:tenantId": "11111111-2222-4333-8444-555555555555", "exo_oauth:apps": []},
     "exo_oauth:apps", "unknown key, did you mean exo-oauth:apps?"),
    ("example not a boolean", raw_config() | {"exo-oauth:example": "yes"}, "exo-oauth:example",
     "must be true or false, not"),
    ("apps missing", {"azuread:tenantId": "11111111-2222-4333-8444-555555555555"}, "exo-oauth:apps", "is required"),
    ("apps wrong type", raw_config() | {"exo-oauth:apps": {"name": "x"}}, "exo-oauth:apps",
     "must be a list, not a mapping"),
    ("protocols wrong type", with_app(protocols="imap"), "exo-oauth:apps[0].protocols", "must be a list, not a string"),
    ("bad tenant GUID", raw_config(app()) | {"azuread:tenantId": "contoso"}, "azuread:tenantId",
     "'contoso' is not a GUID; allowed: xxxxxxxx-xxxx"),
    ("GUID with a trailing newline", raw_config(app()) | {"azuread:tenantId": "11111111-2222-4333-8444-555555555555\n"},
     "azuread:tenantId", "is not a GUID"),
    ("app name with a trailing newline", with_app(name="scanners\n"), "exo-oauth:apps[0].name", "is not allowed"),
    ("tenant missing", {"exo-oauth:apps": []}, "azuread:tenantId", "is required; allowed: a GUID"),
    ("flow missing", without("flow"), "exo-oauth:apps[0].flow", "is required; allowed: app-only, delegated"),
    ("protocols missing", without("protocols"), "exo-oauth:apps[0].protocols",
     "is required; allowed: a non-empty list"),
    ("owners missing", without("owners"), "exo-oauth:apps[0].owners", "is required; allowed: a non-empty list"),
    ("name missing", without("name"), "exo-oauth:apps[0].name", "is required; allowed: a non-empty string"),
    ("mailbox address missing", with_app(mailboxes=[{"sendAs": True}]), "exo-oauth:apps[0].mailboxes[0].address",
     "is required; allowed: a mailbox address"),
    ("credential type missing", with_app(credential={"lifetimeDays": 30}), "exo-oauth:apps[0].credential.type",
     "is required; allowed: secret, certificate, federated, none"),
    ("duplicate display name", raw_config(app(name="one", displayName="Scanners"),
                                          app(name="two", displayName="scanners")),
     "exo-oauth:apps[1].displayName", "'scanners' is already the display name of exo-oauth:apps[0].displayName"),
    ("display name equal to another app's name", raw_config(app(name="scanners", displayName=None),
                                                           app(name="two", displayName="scanners")),
     "exo-oauth:apps[1].displayName", "is already the display name of exo-oauth:apps[0].name"),
    ("bad owner GUID", with_app(owners=["me@contoso.com"]), "exo-oauth:apps[0].owners[0]", "is not a GUID"),
    ("no owners", with_app(owners=[]), "exo-oauth:apps[0].owners", "must not be empty"),
    ("unknown flow", with_app(flow="client-credentials"), "exo-oauth:apps[0].flow",
     "'client-credentials' is not allowed; allowed: app-only, delegated"),
    ("unknown protocol in second app", second_app(protocols=["imap4"]), "exo-oauth:apps[1].protocols[0]",
     "'imap4' is not allowed; allowed: imap, pop, smtp"),
    ("protocol wrong type", with_app(protocols=[993]), "exo-oauth:apps[0].protocols[0]",
     "a number is not allowed; allowed: imap, pop, smtp"),
    ("empty protocols", with_app(protocols=[]), "exo-oauth:apps[0].protocols", "must not be empty"),
    ("duplicate protocol", with_app(protocols=["smtp", "smtp"]), "exo-oauth:apps[0].protocols[1]", "listed twice"),
    ("duplicate app names", raw_config(app(name="dup"), app(name="dup")), "exo-oauth:apps[1].name",
     "'dup' is already used by exo-oauth:apps[0]"),
    ("bad app name", with_app(name="Scanners_1"), "exo-oauth:apps[0].name",
     "allowed: a-z, 0-9 and single '-' between them"),
    ("invalid mailbox", with_app(mailboxes=["scanner at contoso.com"]), "exo-oauth:apps[0].mailboxes[0]",
     "is not a valid mailbox address"),
    ("invalid mailbox in mapping", with_app(mailboxes=[{"address": "a@b@c", "sendAs": True}]),
     "exo-oauth:apps[0].mailboxes[0].address", "is not a valid mailbox address"),
    ("sendAs wrong type", with_app(mailboxes=[{"address": "a@contoso.com", "sendAs": "yes"}]),
     "exo-oauth:apps[0].mailboxes[0].sendAs", "must be true or false, not a string"),
    ("duplicate mailbox", with_app(mailboxes=["a@contoso.com", "A@contoso.com"]), "exo-oauth:apps[0].mailboxes[1]",
     "listed twice"),
    ("mailboxes on delegated", with_app(flow="delegated", mailboxes=["a@contoso.com"]), "exo-oauth:apps[0].mailboxes",
     "is not allowed on a delegated app"),
    ("app-only without mailboxes", with_app(mailboxes=[]), "exo-oauth:apps[0].mailboxes", "must not be empty"),
    ("loopback redirect URI on a confidential client", with_app(redirectUris=["http://localhost/"]),
     "exo-oauth:apps[0].redirectUris[0]", "'http://localhost/' is a loopback http:// URI on a confidential client"),
    ("loopback redirect URI on a delegated confidential client",
     with_app(flow="delegated", redirectUris=["http://127.0.0.1:8400/cb"]),
     "exo-oauth:apps[0].redirectUris[0]", "is a loopback http:// URI on a confidential client"),
    ("http redirect URI on another host",
     with_app(flow="delegated", publicClient=True, redirectUris=["http://mail.contoso.com/cb"]),
     "exo-oauth:apps[0].redirectUris[0]", "is an http:// URI on a host other than localhost or 127.0.0.1"),
    ("http redirect URI on a host that merely starts with localhost",
     with_app(flow="delegated", publicClient=True, redirectUris=["http://localhost.contoso.com/"]),
     "exo-oauth:apps[0].redirectUris[0]", "is an http:// URI on a host other than localhost or 127.0.0.1"),
    ("IPv6 loopback redirect URI",
     with_app(flow="delegated", publicClient=True, redirectUris=["http://[::1]:8400/"]),
     "exo-oauth:apps[0].redirectUris[0]", "uses the IPv6 loopback address [::1], which Entra ID does not support"),
    ("custom-scheme redirect URI",
     with_app(flow="delegated", publicClient=True, redirectUris=["ms-appx-web://x"]),
     "exo-oauth:apps[0].redirectUris[0]", "is not an https:// or loopback http:// URL"),
    ("loopback look-alike with a backslash (a browser's host is evil.com)",
     with_app(flow="delegated", publicClient=True, redirectUris=["http://evil.com\\@localhost/cb"]),
     "exo-oauth:apps[0].redirectUris[0]", "has a backslash"),
    ("https URI with a backslash before the path",
     with_app(flow="delegated", publicClient=True, redirectUris=["https://evil.com\\.contoso.com/cb"]),
     "exo-oauth:apps[0].redirectUris[0]", "has a backslash"),
    ("loopback URI with user information",
     with_app(flow="delegated", publicClient=True, redirectUris=["http://evil.com@localhost/cb"]),
     "exo-oauth:apps[0].redirectUris[0]", "has user information"),
    ("redirect URI with a tab inside the host",
     with_app(flow="delegated", publicClient=True, redirectUris=["http://local\thost/cb"]),
     "exo-oauth:apps[0].redirectUris[0]", "has a space or control character"),
    ("redirect URI with fragment", with_app(redirectUris=["https://app.contoso.com/#x"]),
     "exo-oauth:apps[0].redirectUris[0]", "has a fragment"),
    ("lifetime zero", with_app(credential={"type": "secret", "lifetimeDays": 0}),
     "exo-oauth:apps[0].credential.lifetimeDays", "0 is out of range; allowed: 14 to 730"),
    ("lifetime too long", with_app(credential={"type": "secret", "lifetimeDays": 731}),
     "exo-oauth:apps[0].credential.lifetimeDays", "731 is out of range; allowed: 14 to 730"),
    ("lifetime as text", with_app(credential={"type": "secret", "lifetimeDays": "180"}),
     "exo-oauth:apps[0].credential.lifetimeDays", "must be a whole number from 14 to 730, not a string"),
    ("rotation not before expiry",
     with_app(credential={"type": "certificate", "lifetimeDays": 30, "rotateBeforeDays": 30}),
     "exo-oauth:apps[0].credential.rotateBeforeDays",
     "30 is out of range; allowed: 7 to 29 (at least 7: rotation.yml deploys the next one weekly)"),
    ("secret overlap over half its life",
     with_app(credential={"type": "secret", "lifetimeDays": 30, "rotateBeforeDays": 16}),
     "exo-oauth:apps[0].credential.rotateBeforeDays",
     "16 is out of range for a secret living 30 days; allowed: 7 to 15 (at least 7: rotation.yml deploys the next one "
     "weekly; at most half of lifetimeDays"),
    ("no overlap", with_app(credential={"type": "secret", "rotateBeforeDays": 0}),
     "exo-oauth:apps[0].credential.rotateBeforeDays",
     "0 is out of range for a secret living 180 days; allowed: 7 to 90 (at least 7: rotation.yml deploys the next one"),
    ("certificate overlap shorter than the weekly run",
     with_app(credential={"type": "certificate", "lifetimeDays": 30, "rotateBeforeDays": 6}),
     "exo-oauth:apps[0].credential.rotateBeforeDays", "6 is out of range; allowed: 7 to 29"),
    ("secret too short for a weekly overlap", with_app(credential={"type": "secret", "lifetimeDays": 13}),
     "exo-oauth:apps[0].credential.lifetimeDays", "13 is out of range; allowed: 14 to 730 (rotateBeforeDays needs"),
    ("unknown credential type", with_app(credential={"type": "password"}), "exo-oauth:apps[0].credential.type",
     "'password' is not allowed; allowed: secret, certificate, federated, none"),
    ("certificate on a secret", with_app(credential={"type": "secret", "publicKeyPem": "x"}),
     "exo-oauth:apps[0].credential", "unknown key 'publicKeyPem'; allowed: type, lifetimeDays, rotateBeforeDays"),
    ("certificate missing", with_app(credential={"type": "certificate"}),
     "exo-oauth:apps[0].credential.publicKeyPem", "is required; allowed: the public X.509 certificate in PEM"),
    ("certificate not PEM", with_app(credential={"type": "certificate", "publicKeyPem": "MIIB..."}),
     "exo-oauth:apps[0].credential.publicKeyPem", "is not a PEM certificate"),
    ("certificate garbage", with_app(credential={"type": "certificate",
                                                 "publicKeyPem": "-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                                 "-----END CERTIFICATE-----"}),
     "exo-oauth:apps[0].credential.publicKeyPem", "is not a valid PEM certificate"),
    ("federated issuer over http", with_app(credential={"type": "federated", "issuer": "http://issuer",
                                                        "subject": "repo:x"}),
     "exo-oauth:apps[0].credential.issuer", "is not an HTTPS URL"),
    ("federated name past Graph's 120", with_app(credential={"type": "federated", "issuer": "https://issuer",
                                                             "subject": "repo:x", "name": "n" * 121}),
     "exo-oauth:apps[0].credential.name", "is 121 characters long; allowed: at most 120"),
    ("name on a secret", with_app(credential={"type": "secret", "name": "x"}), "exo-oauth:apps[0].credential",
     "unknown key 'name'; allowed: type, lifetimeDays, rotateBeforeDays"),
    ("assignment required as text", with_app(appRoleAssignmentRequired="yes"),
     "exo-oauth:apps[0].appRoleAssignmentRequired", "must be true or false, not a string"),
    ("no credential on app-only", with_app(credential={"type": "none"}), "exo-oauth:apps[0].credential.type",
     "'none' is only for delegated apps with publicClient: true"),
    ("public client on app-only", with_app(publicClient=True), "exo-oauth:apps[0].publicClient",
     "must be false on an app-only app"),
    ("exchange organization not the initial domain", with_app() | {"exo-oauth:exchange": {"organization":
                                                                                          "contoso.com"}},
     "exo-oauth:exchange.organization", "'contoso.com' is not the tenant's initial domain; allowed: its "
     "*.onmicrosoft.com domain"),
    ("exchange bad organization", with_app() | {"exo-oauth:exchange": {"organization": "contoso"}},
     "exo-oauth:exchange.organization", "is not a domain"),
    ("exchange appId without thumbprint",
     with_app() | {"exo-oauth:exchange": {"organization": "contoso.onmicrosoft.com",
                                          "appId": "11111111-2222-4333-8444-555555555555"}},
     "exo-oauth:exchange.certificateFilePath", "is required with appId, or certificateThumbprint (Windows only)"),
    ("exchange autoApply with interactive sign-in", with_app() | {"exo-oauth:exchange": {"autoApply": True}},
     "exo-oauth:exchange.autoApply", "needs certificate app-only auth"),
    ("exchange unknown switch", with_app() | {"exo-oauth:exchange": {"tenantSmtpAuth": "on"}},
     "exo-oauth:exchange.tenantSmtpAuth", "'on' is not allowed; allowed: report, enable, disable"),
]


@pytest.mark.parametrize(("raw", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_names_file_key_path_and_allowed_values(raw: dict[str, Any], path: str, fragment: str) -> None:
    """Each invalid stack config raises one ConfigError line: file, key path, problem and what is allowed."""
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: {path}: "), message
    assert fragment in message
    assert "\n" not in message


def test_private_key_in_certificate_is_refused_without_echoing_it() -> None:
    """A PEM that carries a private key is refused, and no line of the key appears in the message."""
    pem = make_certificate_pem(NOW + timedelta(days=90), with_key=True)
    with pytest.raises(ConfigError) as caught:
        parse(with_app(credential={"type": "certificate", "publicKeyPem": pem}))
    assert "contains a private key" in str(caught.value)
    key_lines = pem.split("-----BEGIN PRIVATE KEY-----")[1].splitlines()[1:3]
    assert all(line not in str(caught.value) for line in key_lines)


def test_expired_certificate_is_refused_with_its_expiry_date() -> None:
    """A certificate that has expired is refused, naming the day it expired."""
    pem = make_certificate_pem(NOW - timedelta(days=1))
    with pytest.raises(ConfigError, match=r"credential.publicKeyPem: certificate expired on 2026-11-27"):
        parse(with_app(credential={"type": "certificate", "publicKeyPem": pem}))


def test_valid_certificate_keeps_its_pem_and_expiry() -> None:
    """A valid certificate is accepted and its expiry is read from the PEM."""
    not_after = (NOW + timedelta(days=365)).replace(microsecond=0)
    config = parse(with_app(credential={"type": "certificate", "publicKeyPem": make_certificate_pem(not_after)}))
    credential = config.apps[0].credential
    assert credential.certificate_not_after == not_after
    assert credential.public_key_pem.startswith("-----BEGIN CERTIFICATE-----")


def test_apostrophe_mailbox_is_a_valid_address() -> None:
    """o'brien@contoso.com is a real mailbox address and must be accepted unchanged."""
    config = parse(with_app(mailboxes=["o'brien@contoso.com"]))
    assert config.apps[0].mailboxes[0].address == "o'brien@contoso.com"


def test_defaults_are_a_180_day_secret_rotated_30_days_early_and_display_name_from_name() -> None:
    """Without credential and displayName, an app gets a 180-day secret rotated 30 days before expiry."""
    entry = app(name="scanners")
    del entry["displayName"]
    config = parse(raw_config(entry))
    assert config.apps[0].display_name == "scanners"
    credential = config.apps[0].credential
    assert (credential.type, credential.lifetime_days, credential.rotate_before_days) == (
        "secret", DEFAULT_LIFETIME_DAYS, 30)


def test_short_secret_lifetime_rotates_halfway() -> None:
    """A secret shorter than 60 days rotates at half its lifetime by default, so rotation precedes expiry."""
    config = parse(with_app(credential={"type": "secret", "lifetimeDays": 20}))
    assert config.apps[0].credential.rotate_before_days == 10


def test_protocols_are_kept_in_canonical_order() -> None:
    """Protocols come out as imap, pop, smtp whatever order the file lists them in."""
    config = parse(with_app(protocols=["smtp", "imap"]))
    assert config.apps[0].protocols == ("imap", "smtp")


def test_structured_values_may_be_json_text_as_the_engine_passes_them() -> None:
    """Structured keys as JSON text (how the engine hands them over, or `pulumi config set` stores them) parse alike."""
    raw = with_app()
    as_text = raw | {"exo-oauth:apps": json.dumps(raw["exo-oauth:apps"]),
                     "exo-oauth:exchange": '{"tenantSmtpAuth": "report"}'}
    assert parse(as_text) == parse(raw)
    with pytest.raises(ConfigError, match=r"exo-oauth:apps: must be a list, not a string"):
        parse(raw | {"exo-oauth:apps": "scanners"})


def test_other_providers_keys_are_left_alone() -> None:
    """Keys of other namespaces (azuread:clientId, pulumi:tags) pass through without error."""
    raw = with_app() | {"azuread:clientId": "whatever", "pulumi:tags": {"team": "it"}}
    assert parse(raw).tenant_id == "11111111-2222-4333-8444-555555555555"


def test_empty_app_list_is_a_valid_stack() -> None:
    """A tenant may have no apps (everything removed before `pulumi destroy`)."""
    assert parse(raw_config()).apps == ()


def test_guids_are_normalised_to_lower_case() -> None:
    """Upper-case GUIDs are accepted and stored lower case, so comparisons and stand-ins are stable."""
    raw = raw_config(app(owners=["ABCDEFAB-CDEF-4ABC-8DEF-ABCDEFABCDEF"]))
    raw["azuread:tenantId"] = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"
    config = parse(raw)
    assert config.tenant_id == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    assert config.apps[0].owners == ("abcdefab-cdef-4abc-8def-abcdefabcdef",)


@pytest.mark.parametrize("uri", ["http://localhost", "http://localhost:8400/cb", "http://127.0.0.1",
                                 "http://127.0.0.1:53682/oauth", "HTTP://LOCALHOST/x", "https://mail.contoso.com/cb"])
def test_public_client_accepts_loopback_http_on_any_port_and_path(uri: str) -> None:
    """Desktop clients (msal's interactive flow, mutt_oauth2.py localhostauthcode) listen on loopback: allowed."""
    raw = with_app(flow="delegated", publicClient=True, credential={"type": "none"}, redirectUris=[uri])
    assert parse_stack_config(raw, "stacks/Pulumi.x.yaml").apps[0].redirect_uris == (uri,)


def test_other_namespaces_keys_pass_and_example_reads_the_engines_text() -> None:
    """The provider's own keys are not "unknown"; `exo-oauth:example` as the engine hands it (`"true"`) is true."""
    raw = raw_config() | {"azuread:clientId": "x", "azuread:useOidc": "true", "pulumi:tags": {"a": "b"}}
    assert parse(raw).example is False
    assert parse(raw | {"exo-oauth:example": "true"}).example is True
    assert parse(raw | {"exo-oauth:example": True}).example is True
