"""Adopt keeps exactly the redirect URIs the stack config accepts, and names every one it leaves out.

What adopt leaves out, the first `pulumi up` removes from the app registration, so it must never happen silently.
"""

from __future__ import annotations

import pytest
import yaml

from exo_domain.microsoft import EXCHANGE_ONLINE
from exo_oauth.fleet.project import read_stack_text
from exo_oauth.tenant.adopt import adopt_app, stack_document
from exo_oauth.tenant.inventory import Application, Permission, Tenant

TENANT = "11111111-2222-4333-8444-555555555555"
OWNER = "0ab1e5e5-0000-4000-8000-000000000001"


def delegated_app(*, web: tuple[str, ...] = (), public: tuple[str, ...] = (), spa: tuple[str, ...] = (),
                  fallback: bool = False) -> Application:
    """Return a delegated IMAP app registration with the given redirect URIs."""
    return Application(
        object_id="6435a0d8-0000-4000-8000-000000000001", app_id="6435a0d8-0000-4000-8000-000000000002",
        display_name="Desktop mail", sign_in_audience="AzureADMyOrg",
        requested=(Permission(EXCHANGE_ONLINE, "Scope", "IMAP.AccessAsUser.All"),), credentials=(),
        web_redirects=web, public_redirects=public, spa_redirects=spa, fallback_public_client=fallback, notes="",
        tags=(), owners=(OWNER,))


def adopt_one(app: Application) -> tuple[list[str], dict[str, str]]:
    """Adopt `app`, check the stack config accepts its entry; return its redirect URIs and the dropped URIs' details."""
    tenant = Tenant(TENANT, {}, (app,), {}, (), ())
    adopted, found = adopt_app(app, tenant, None, set(), default_owner=None, certificates={})
    assert adopted is not None
    text = yaml.safe_dump(stack_document(TENANT, [adopted], None), sort_keys=False)
    _, config = read_stack_text(text, "stacks/Pulumi.adopted.yaml")
    kept = list(config.apps[0].redirect_uris)
    assert kept == adopted.config.get("redirectUris", [])
    dropped = {f.detail.split(" ")[0]: f.detail for f in found if f.code == "adopt-redirect-dropped"}
    return kept, dropped


def test_a_public_client_keeps_its_loopback_redirects() -> None:
    """http://localhost and http://127.0.0.1 (any port, any path) of a public client stay in the stack."""
    uris = ("http://localhost", "http://127.0.0.1:8400/callback", "https://mail.contoso.example/callback")
    kept, dropped = adopt_one(delegated_app(public=uris, fallback=True))
    assert kept == list(uris)
    assert dropped == {}


@pytest.mark.parametrize(("app", "uri", "reason"), [
    (delegated_app(spa=("https://spa.contoso.example/",), fallback=True), "https://spa.contoso.example/",
     "single-page-app"),
    (delegated_app(public=("http://[::1]:8400/",), fallback=True), "http://[::1]:8400/", "IPv6 loopback"),
    (delegated_app(public=("http://127.0.0.2/",), fallback=True), "http://127.0.0.2/", "other than localhost"),
    (delegated_app(web=("http://localhost:8400/",)), "http://localhost:8400/", "confidential client"),
    (delegated_app(web=("http://mail.contoso.example/",)), "http://mail.contoso.example/", "clear text"),
    (delegated_app(public=("msauth.com.contoso.mail://auth",), fallback=True), "msauth.com.contoso.mail://auth",
     "not an https:// or loopback"),
    (delegated_app(public=("http://[::1",), fallback=True), "http://[::1", "not a URL"),
    (delegated_app(web=("https://mail.contoso.example/#done",)), "https://mail.contoso.example/#done", "fragment"),
], ids=["spa", "ipv6-loopback", "other-127", "loopback-on-confidential", "plain-http", "custom-scheme",
        "broken-url", "fragment"])
def test_each_redirect_left_out_is_a_finding_with_the_reason(app: Application, uri: str, reason: str) -> None:
    """A redirect URI the stack config refuses is left out and named, with why, instead of vanishing."""
    kept, dropped = adopt_one(app)
    assert uri not in kept
    assert reason in dropped[uri]


def test_the_shared_rule_keeps_https_and_drops_loopback_on_one_confidential_app() -> None:
    """A confidential app keeps its https:// redirect and loses only its loopback one, which is named."""
    kept, dropped = adopt_one(delegated_app(web=("https://mail.contoso.example/cb", "http://127.0.0.1:9/")))
    assert kept == ["https://mail.contoso.example/cb"]
    assert set(dropped) == {"http://127.0.0.1:9/"}



def test_a_redirect_kept_on_another_platform_is_named_as_moved() -> None:
    """The stack registers a public client's redirects on the public-client platform: a web one there moves."""
    app = delegated_app(web=("https://mail.contoso.example/consent",), public=("http://localhost",), fallback=True)
    tenant = Tenant(TENANT, {}, (app,), {}, (), ())
    adopted, found = adopt_app(app, tenant, None, set(), default_owner=None, certificates={})
    assert adopted is not None
    assert adopted.config["redirectUris"] == ["https://mail.contoso.example/consent", "http://localhost"]
    assert [f.detail for f in found if f.code == "adopt-redirect-moved"] == [
        "https://mail.contoso.example/consent moves from the web platform to the public client platform"]
