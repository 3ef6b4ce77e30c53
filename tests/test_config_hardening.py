"""Config values that used to slip through or mislead.

Non-ASCII mailboxes, blank display names, and publicKeyPem text that is more than one certificate.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from exo_domain.config import Credential, parse_stack_config
from exo_domain.errors import ConfigError
from exo_domain.rotation import fixed_clock
from exo_oauth.cli import main
from exo_oauth.policy.rules import evaluate
from tests.certificates import make_certificate_pem
from tests.config_helpers import NOW, SOURCE, parse, with_app


@pytest.mark.parametrize("address", ["jörg@contoso.example", "user@münchen.example"])
def test_a_non_ascii_mailbox_is_refused_where_the_config_is_read(address: str) -> None:
    """XOAUTH2 and SMTP AUTH carry ASCII only: the config refuses the address instead of verify failing later."""
    with pytest.raises(ConfigError) as caught:
        parse(with_app(mailboxes=[address]))
    assert "non-ASCII" in str(caught.value)
    assert "mailboxes[0]" in str(caught.value)


def test_a_non_ascii_mailbox_is_refused_by_verify_before_any_login(capsys: pytest.CaptureFixture[str]) -> None:
    """The verify command refuses `--mailbox jörg@...` with exit 2 instead of sending nothing and blaming the token."""
    status = main(["verify", "--tenant", "11111111-2222-4333-8444-555555555555", "--client-id",
                   "22222222-3333-4444-8555-666666666666", "--mailbox", "jörg@contoso.example"])
    err = capsys.readouterr().err
    assert status == 2
    assert "--mailbox" in err
    assert "non-ASCII" in err


@pytest.mark.parametrize("name", ["\t", "\u00a0", " \u00a0\t "])
def test_a_display_name_of_only_white_space_says_so(name: str) -> None:
    """A tab or non-breaking space is named as white space, not as 'must be a non-empty string, not a string'."""
    with pytest.raises(ConfigError) as caught:
        parse(with_app(displayName=name))
    assert "only white space" in str(caught.value)
    assert "not a string" not in str(caught.value)


def _key_body(pem: str) -> str:
    return pem.split("-----BEGIN PRIVATE KEY-----")[1].split("-----END PRIVATE KEY-----", maxsplit=1)[0]


@pytest.mark.parametrize("shape", ["lowercase label", "unarmoured key", "two certificates", "text after"])
def test_public_key_pem_must_be_exactly_one_certificate_block(shape: str) -> None:
    """A private key under a lowercase label, a bare key, a second block or extra text are all refused."""
    both = make_certificate_pem(NOW + timedelta(days=90), with_key=True)
    certificate = both.split("-----BEGIN PRIVATE KEY-----")[0]
    key = _key_body(both)
    value = {
        "lowercase label": certificate + "-----BEGIN private key-----" + key + "-----END private key-----\n",
        "unarmoured key": certificate + key,
        "two certificates": certificate + certificate,
        "text after": certificate + "hello\n",
    }[shape]
    with pytest.raises(ConfigError) as caught:
        parse(with_app(credential={"type": "certificate", "publicKeyPem": value}))
    message = str(caught.value)
    assert "publicKeyPem" in message
    assert all(line not in message for line in key.split() if len(line) > 8)


@pytest.mark.parametrize("uri", ["https://app.contoso.com/cb#frag", "https://app.contoso.com/cb#"])
def test_the_policy_rule_and_the_config_refuse_a_redirect_uri_fragment_alike(uri: str) -> None:
    """The https-redirect-uris rule and the config read one check, so neither lets a '#' through."""
    with pytest.raises(ConfigError) as caught:
        parse(with_app(redirectUris=[uri]))
    assert "has a fragment" in str(caught.value)
    resource = {"type": "azuread:index/application:Application", "name": "x-app", "urn": "urn:x",
                "inputs": {"displayName": "x", "signInAudience": "AzureADMyOrg", "web": {"redirectUris": [uri]}}}
    found = [v.message for v in evaluate([resource], now=NOW) if v.policy == "https-redirect-uris"]
    assert any("has a fragment" in message for message in found), found


def test_certificate_expiry_is_judged_by_the_rotation_clock() -> None:
    """Under fixed_clock (offline plan, simulations) the config judges expiry by the same day rotation uses."""
    pem = make_certificate_pem(NOW + timedelta(days=30))
    raw = with_app(credential={"type": "certificate", "publicKeyPem": pem})
    with fixed_clock(NOW + timedelta(days=31)), pytest.raises(ConfigError) as caught:
        parse_stack_config(raw, SOURCE)
    assert "certificate expired on" in str(caught.value)
    with fixed_clock(NOW):
        assert parse_stack_config(raw, SOURCE).apps[0].credential.certificate_not_after == NOW + timedelta(days=30)


@pytest.mark.parametrize(("value", "problem"), [
    (7, "must be a non-empty string, not a number"),
    ("", "is empty; allowed: text with visible characters"),
    (" \t", "is only white space (such as a tab or a non-breaking space); allowed: text with visible characters"),
])
def test_text_that_is_not_text_empty_or_blank_gets_its_own_line(value: object, problem: str) -> None:
    """A display name that is no string, an empty one, or only white space: each says which, and what is allowed."""
    with pytest.raises(ConfigError) as caught:
        parse(with_app(displayName=value))
    assert str(caught.value) == f"{SOURCE}: exo-oauth:apps[0].displayName: {problem}"


@pytest.mark.parametrize("kind", ["secret", "certificate"])
def test_a_secret_or_certificate_credential_cannot_lack_its_lifetime(kind: str) -> None:
    """The component reads lifetime and overlap without fallbacks, so a credential without them cannot exist."""
    with pytest.raises(ValueError, match="lifetime_days and rotate_before_days"):
        Credential(kind, lifetime_days=180)


def test_the_organization_hint_names_the_clouds_initial_domain() -> None:
    """In GCC High the organization hint shows contoso.onmicrosoft.us, not the global cloud's domain."""
    raw = with_app() | {"exo-oauth:cloud": "usgov", "azuread:environment": "usgovernmentl4",
                        "exo-oauth:exchange": {"organization": "not a domain"}}
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert str(caught.value).endswith("allowed: the tenant's domain, e.g. contoso.onmicrosoft.us")
