"""Which permissions, token scopes, consent URL and mail endpoints each flow and protocol needs, per cloud.

Pure functions over exo_domain.microsoft. Permissions are named, never hard-coded as GUIDs: the component resolves
the names to IDs at deploy time from the tenant's first-party service principals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from .microsoft import CLOUDS, DEFAULT_CLOUD, EXCHANGE_ONLINE, MICROSOFT_GRAPH, PROTOCOLS
from .schema import EXCHANGE_ACCESS, RBAC

APP_ONLY_ROLES = {p.name: p.app_role for p in PROTOCOLS}
"""App-only: Office 365 Exchange Online application permissions (app roles), per protocol."""
DELEGATED_SCOPES = {p.name: p.delegated_scope for p in PROTOCOLS}
"""Delegated: Office 365 Exchange Online delegated permissions (scopes), per protocol.

Clients ask for `https://outlook.office.com/<scope>`, whose resource is Exchange Online, and Entra checks consent on
the resource asked for, so Microsoft Graph's scopes of the same names do not cover them (docs/decisions/0030).
"""
OFFLINE_ACCESS = "offline_access"
"""Delegated apps also get refresh tokens, so mail clients do not ask users to sign in every hour."""
SIGN_IN_SCOPES = (OFFLINE_ACCESS, "openid", "profile")
"""Delegated: Microsoft Graph scopes msal adds to every interactive request, so they need consent too."""


@dataclass(frozen=True)
class Permission:
    """One permission an app requests and is granted."""

    api: str
    """The first-party API: MICROSOFT_GRAPH or EXCHANGE_ONLINE."""
    name: str
    """The permission's value, as the API's service principal publishes it."""
    kind: str
    """`Role` (application permission) or `Scope` (delegated permission), as in requiredResourceAccess."""


def permissions_for(flow: str, protocols: Sequence[str], exchange_access: str = EXCHANGE_ACCESS[0],
                    ) -> tuple[Permission, ...]:
    """Return exactly the permissions the flow needs for the protocols, and nothing else.

    With `exchange_access` `rbac` (app-only SMTP) none: Exchange RBAC for Applications authorizes the app, and
    SMTP.SendAsApp in the token would make Exchange check mailbox permissions instead (docs/decisions/0131).
    """
    if exchange_access == RBAC:
        return ()
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


def token_scopes(flow: str, protocols: Sequence[str], cloud: str = DEFAULT_CLOUD) -> tuple[str, ...]:
    """Return the scopes a client requests in its token request, in `cloud`."""
    where = CLOUDS[cloud]
    if flow == "app-only":
        return (f"{where.exchange_resource}/.default",)
    return (*(f"{where.delegated_resource}/{DELEGATED_SCOPES[p]}" for p in protocols), OFFLINE_ACCESS)


def admin_consent_url(
    tenant_id: str, client_id: str, flow: str, redirect_uri: str | None, cloud: str = DEFAULT_CLOUD
) -> str:
    """Return Microsoft's v2.0 admin consent URL for the app, on `cloud`'s login host.

    The stack already grants consent as code; this URL is the documented manual fallback. Without a registered
    redirect URI, Entra shows the consent page but cannot redirect afterwards, so the parameter is left out. A
    `/.default` scope makes the page ask for every permission the app registration lists, on every API (Exchange
    Online's mail scopes and Graph's sign-in scopes alike); the resource named is the one the mail scopes live on.
    """
    where = CLOUDS[cloud]
    query = {"client_id": client_id}
    if redirect_uri:
        query["redirect_uri"] = redirect_uri
    resource = where.exchange_resource if flow == "app-only" else where.delegated_resource
    query["scope"] = f"{resource}/.default"
    return f"{where.login_host}/{tenant_id}/v2.0/adminconsent?{urlencode(query)}"
