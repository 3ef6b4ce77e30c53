"""Which permissions, token scopes, consent URL and mail endpoints each flow and protocol needs.

Pure data and functions. Permissions are named, never hard-coded as GUIDs: the component resolves the names to IDs
at deploy time from the tenant's first-party service principals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

MICROSOFT_GRAPH = "MicrosoftGraph"
"""Key of Microsoft Graph in azuread's `get_application_published_app_ids` result."""
EXCHANGE_ONLINE = "Office365ExchangeOnline"
"""Key of Office 365 Exchange Online in that result."""

APP_ONLY_ROLES = {"imap": "IMAP.AccessAsApp", "pop": "POP.AccessAsApp", "smtp": "SMTP.SendAsApp"}
"""App-only: Office 365 Exchange Online application permissions (app roles), per protocol."""
DELEGATED_SCOPES = {"imap": "IMAP.AccessAsUser.All", "pop": "POP.AccessAsUser.All", "smtp": "SMTP.Send"}
"""Delegated: Office 365 Exchange Online delegated permissions (scopes), per protocol.

Clients ask for `https://outlook.office.com/<scope>`, whose resource is Exchange Online, and Entra checks consent on
the resource asked for, so Microsoft Graph's scopes of the same names do not cover them (docs/decisions/0030).
"""
OFFLINE_ACCESS = "offline_access"
"""Delegated apps also get refresh tokens, so mail clients do not ask users to sign in every hour."""
SIGN_IN_SCOPES = (OFFLINE_ACCESS, "openid", "profile")
"""Delegated: Microsoft Graph scopes msal adds to every interactive request, so they need consent too."""

EXCHANGE_RESOURCE = "https://outlook.office365.com"
"""Exchange Online's resource for app-only tokens in the global cloud."""
DELEGATED_RESOURCE = "https://outlook.office.com"
"""The resource delegated mail scopes are prefixed with in the global cloud."""
APP_ONLY_TOKEN_SCOPE = f"{EXCHANGE_RESOURCE}/.default"
DELEGATED_SCOPE_PREFIX = f"{DELEGATED_RESOURCE}/"
DELEGATED_CONSENT_SCOPE = f"{DELEGATED_RESOURCE}/.default"
LOGIN_HOST = "https://login.microsoftonline.com"

ENDPOINTS = {
    "imap": {"host": "outlook.office365.com", "port": 993, "security": "tls"},
    "pop": {"host": "outlook.office365.com", "port": 995, "security": "tls"},
    "smtp": {"host": "smtp.office365.com", "port": 587, "security": "starttls"},
}
"""Exchange Online's mail endpoints for the global cloud."""


@dataclass(frozen=True)
class Permission:
    """One permission an app requests and is granted."""

    api: str
    """The first-party API: MICROSOFT_GRAPH or EXCHANGE_ONLINE."""
    name: str
    """The permission's value, as the API's service principal publishes it."""
    kind: str
    """`Role` (application permission) or `Scope` (delegated permission), as in requiredResourceAccess."""


def permissions_for(flow: str, protocols: Sequence[str]) -> tuple[Permission, ...]:
    """Return exactly the permissions the flow needs for the protocols, and nothing else."""
    if flow == "app-only":
        return tuple(Permission(EXCHANGE_ONLINE, APP_ONLY_ROLES[p], "Role") for p in protocols)
    return (*(Permission(EXCHANGE_ONLINE, DELEGATED_SCOPES[p], "Scope") for p in protocols),
            *(Permission(MICROSOFT_GRAPH, s, "Scope") for s in SIGN_IN_SCOPES))


def by_api(permissions: Sequence[Permission]) -> dict[str, tuple[Permission, ...]]:
    """Group permissions by API, APIs in order of first appearance, permissions in their given order."""
    grouped: dict[str, list[Permission]] = {}
    for permission in permissions:
        grouped.setdefault(permission.api, []).append(permission)
    return {api: tuple(group) for api, group in grouped.items()}


def token_scopes(flow: str, protocols: Sequence[str]) -> tuple[str, ...]:
    """Return the scopes a client requests in its token request."""
    if flow == "app-only":
        return (APP_ONLY_TOKEN_SCOPE,)
    return (*(DELEGATED_SCOPE_PREFIX + DELEGATED_SCOPES[p] for p in protocols), OFFLINE_ACCESS)


def admin_consent_url(tenant_id: str, client_id: str, flow: str, redirect_uri: str | None) -> str:
    """Return Microsoft's v2.0 admin consent URL for the app.

    The stack already grants consent as code; this URL is the documented manual fallback. Without a registered
    redirect URI, Entra shows the consent page but cannot redirect afterwards, so the parameter is left out. A
    `/.default` scope makes the page ask for every permission the app registration lists, on every API (Exchange
    Online's mail scopes and Graph's sign-in scopes alike); the resource named is the one the mail scopes live on.
    """
    query = {"client_id": client_id}
    if redirect_uri:
        query["redirect_uri"] = redirect_uri
    query["scope"] = APP_ONLY_TOKEN_SCOPE if flow == "app-only" else DELEGATED_CONSENT_SCOPE
    return f"{LOGIN_HOST}/{tenant_id}/v2.0/adminconsent?{urlencode(query)}"


def endpoints_for(protocols: Sequence[str]) -> dict[str, dict[str, object]]:
    """Return the mail endpoints of the chosen protocols."""
    return {p: dict(ENDPOINTS[p]) for p in protocols}
