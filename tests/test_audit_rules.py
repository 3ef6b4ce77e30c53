"""Audit judges redirect URIs, credential lifetimes and permissions by the same rules as the stack and the plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exo_domain.microsoft import EXCHANGE_ONLINE
from exo_domain.permissions import permissions_for
from exo_oauth.policy.rules import PolicyConfig
from exo_oauth.tenant.findings import Finding, audit
from exo_oauth.tenant.inventory import Application, KeyCredential, Permission, Tenant

TENANT = "11111111-2222-4333-8444-555555555555"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def app(*, web: tuple[str, ...] = (), public: tuple[str, ...] = (), spa: tuple[str, ...] = (),
        credentials: tuple[KeyCredential, ...] = (), requested: tuple[Permission, ...] | None = None) -> Application:
    """Return an owned, single-tenant delegated IMAP app registration."""
    return Application(
        object_id="6435a0d8-0000-4000-8000-000000000001", app_id="6435a0d8-0000-4000-8000-000000000002",
        display_name="Desktop mail", sign_in_audience="AzureADMyOrg",
        requested=requested or (Permission(EXCHANGE_ONLINE, "Scope", "IMAP.AccessAsUser.All"),),
        credentials=credentials, web_redirects=web, public_redirects=public, spa_redirects=spa,
        fallback_public_client=bool(public), notes="", tags=(), owners=("0ab1e5e5-0000-4000-8000-000000000001",))


def findings(application: Application, policy: PolicyConfig | None = None) -> list[Finding]:
    """Audit a tenant holding only `application`."""
    return audit(Tenant(TENANT, {}, (application,), {}, (), ()), NOW, policy or PolicyConfig())


def redirect_details(application: Application) -> list[str]:
    """Return the insecure-redirect findings' details."""
    return [f.detail for f in findings(application) if f.code == "insecure-redirect"]


@pytest.mark.parametrize(("uri", "reason"), [
    ("http://[::1]:8400/", "IPv6 loopback"),
    ("http://127.0.0.2/", "other than localhost"),
    ("http://[::1", "not a URL"),
])
def test_audit_refuses_the_redirects_the_stack_refuses(uri: str, reason: str) -> None:
    """IPv6 loopback, 127.x beyond 127.0.0.1 and broken URIs are findings on a public client, not passes or crashes."""
    details = redirect_details(app(public=(uri,)))
    assert len(details) == 1
    assert uri in details[0]
    assert reason in details[0]


def test_audit_passes_the_redirects_the_stack_accepts() -> None:
    """Loopback http:// on the public-client platform and https:// anywhere are fine."""
    assert redirect_details(app(public=("http://localhost", "http://127.0.0.1:8400/cb"),
                                web=("https://mail.contoso.example/cb",))) == []


def test_loopback_on_the_web_platform_is_a_finding() -> None:
    """The web platform is a confidential client: loopback http:// there is named."""
    assert "confidential client" in redirect_details(app(web=("http://localhost:8400/",)))[0]


def secret(start: datetime, end: datetime) -> KeyCredential:
    """Return a client secret valid from `start` to `end`."""
    return KeyCredential("secret", "8d0ec8b6-0000-4000-8000-000000000001", "laptop", start, end)


def test_a_credential_of_exactly_the_maximum_calendar_days_is_not_too_long() -> None:
    """365 calendar days (an hour over 365 x 24 hours) is within a 365-day maximum, as the policy pack counts."""
    start = NOW - timedelta(days=1)
    found = findings(app(credentials=(secret(start, start + timedelta(days=365, hours=1)),)),
                     PolicyConfig(max_credential_days=365))
    assert [f for f in found if f.code == "credential-too-long"] == []


def test_a_too_long_credential_names_its_calendar_days() -> None:
    """A secret from 23:00 to 01:00 a year and a day later lives 366 calendar days, so says 366, not 365."""
    start = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    found = findings(app(credentials=(secret(start, start + timedelta(days=365, hours=2)),)),
                     PolicyConfig(max_credential_days=365))
    [too_long] = [f for f in found if f.code == "credential-too-long"]
    assert "lives 366 days" in too_long.detail


def test_an_expiring_credential_names_the_days_left() -> None:
    """The expiring finding says how many calendar days are left, as the plan does."""
    found = findings(app(credentials=(secret(NOW - timedelta(days=300), NOW + timedelta(days=3, hours=20)),)))
    [expiring] = [f for f in found if f.code == "credential-expiring"]
    assert "in 4 days" in expiring.detail


def test_a_delegated_app_holding_exactly_what_the_program_declares_has_no_permission_findings() -> None:
    """The target is exo_domain.permissions.permissions_for: the mail scope plus the Graph sign-in scopes."""
    wanted = tuple(Permission(p.api, p.kind, p.name) for p in permissions_for("delegated", ("imap",)))
    found = findings(app(requested=wanted))
    assert {f.code for f in found} == {"requested-not-consented"}
    assert len([f for f in found if f.code == "requested-not-consented"]) == len(wanted)
