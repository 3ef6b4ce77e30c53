"""The test tenant the Graph stand-in serves: one correct mail app and one of each planted mistake, and fleets.

Object shapes follow the Graph v1.0 reference examples (application, servicePrincipal, oauth2PermissionGrant,
appRoleAssignment, federatedIdentityCredential). IDs are derived from names, so every run plants the same tenant.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from exo_oauth.tenant.exchange_export import FORMAT
from exo_oauth.util.microsoft_ids import APP_ROLES, PUBLISHED_APP_IDS, SCOPES
from standins.graph import GraphData

TENANT = "11111111-2222-4333-8444-555555555555"
GRAPH, EXO = "MicrosoftGraph", "Office365ExchangeOnline"
EXTRA_SCOPES = {GRAPH: {"profile": "14dad69e-099b-42c9-810b-d002981feec1"},
                EXO: {"EWS.AccessAsUser.All": "3b5f3d61-589b-4a3c-a359-5dd4b5ee5bd5"}}
"""Published scopes the product's tables do not list (test data)."""
OWNER = "0ab1e5e5-0000-4000-8000-000000000001"
DEFAULT_OWNER = "7d5c2a9e-1b3f-4e6d-8a0c-2f4b6d8e0a1c"
"""adopt's --default-owner in the tests, for apps without owners."""


def oid(*names: str) -> str:
    """Return a stable GUID for a name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "exo-oauth-test/" + "/".join(names)))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_party(key: str) -> dict[str, Any]:
    scopes = SCOPES[key] | EXTRA_SCOPES[key]
    return {"id": oid("sp", key), "appId": PUBLISHED_APP_IDS[key], "displayName": key,
            "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a", "servicePrincipalType": "Application",
            "appRoles": [{"id": i, "value": v, "allowedMemberTypes": ["Application"], "isEnabled": True}
                         for v, i in APP_ROLES[key].items()],
            "oauth2PermissionScopes": [{"id": i, "value": v, "type": "Admin", "isEnabled": True}
                                       for v, i in scopes.items()]}


def _id(key: str, kind: str, name: str) -> str:
    return (APP_ROLES if kind == "Role" else SCOPES)[key].get(name) or EXTRA_SCOPES[key][name]


@dataclass
class Builder:
    """Adds Graph-shaped objects to a GraphData."""

    data: GraphData
    now: datetime

    def app(self, name: str, requests: list[tuple[str, str, str]], *, audience: str = "AzureADMyOrg",
            secret_days: tuple[int, int] | None = None, cert_days: tuple[int, int] | None = None,
            web: tuple[str, ...] = (), public: tuple[str, ...] = (), owners: bool = True,
            federated: bool = False) -> dict[str, Any]:
        """Add an app registration (and its owners and federated credential); return it."""
        resources: dict[str, list[dict[str, str]]] = {}
        for key, kind, perm in requests:
            resources.setdefault(PUBLISHED_APP_IDS[key], []).append({"id": _id(key, kind, perm), "type": kind})
        app: dict[str, Any] = {
            "id": oid("app", name), "appId": oid("client", name), "displayName": name, "signInAudience": audience,
            "deletedDateTime": None, "createdDateTime": _when(self.now - timedelta(days=400)),
            "requiredResourceAccess": [{"resourceAppId": r, "resourceAccess": a} for r, a in resources.items()],
            "passwordCredentials": [], "keyCredentials": [], "notes": f"made by hand: {name}", "tags": [],
            "web": {"redirectUris": list(web), "homePageUrl": None, "logoutUrl": None},
            "publicClient": {"redirectUris": list(public)}, "spa": {"redirectUris": []},
            "isFallbackPublicClient": bool(public) or None,
        }
        if secret_days:
            app["passwordCredentials"].append({
                "customKeyIdentifier": None, "displayName": "from the blog", "hint": "abc", "secretText": None,
                "keyId": oid("secret", name), "startDateTime": _when(self.now + timedelta(days=secret_days[0])),
                "endDateTime": _when(self.now + timedelta(days=secret_days[1]))})
        if cert_days:
            app["keyCredentials"].append({
                "customKeyIdentifier": "52ED9B5038A47B9E2E2190715CC238359D4F8F73", "displayName": "CN=device",
                "key": None, "keyId": oid("cert", name), "type": "AsymmetricX509Cert", "usage": "Verify",
                "startDateTime": _when(self.now + timedelta(days=cert_days[0])),
                "endDateTime": _when(self.now + timedelta(days=cert_days[1]))})
        self.data.applications.append(app)
        self.data.owners[app["id"]] = [{"@odata.type": "#microsoft.graph.user", "id": OWNER}] if owners else []
        if federated:
            self.data.federated[app["id"]] = [{
                "id": oid("fic", name), "name": "github-main", "issuer": "https://token.actions.githubusercontent.com",
                "subject": "repo:contoso/scanner:ref:refs/heads/main", "description": None,
                "audiences": ["api://AzureADTokenExchange"]}]
        return app

    def principal(self, app: dict[str, Any]) -> dict[str, Any]:
        """Add the app's service principal; return it."""
        sp = {"id": oid("sp", app["displayName"]), "appId": app["appId"], "displayName": app["displayName"],
              "appOwnerOrganizationId": TENANT, "servicePrincipalType": "Application", "appRoles": [],
              "oauth2PermissionScopes": []}
        self.data.servicePrincipals.append(sp)
        return sp

    def grant(self, sp: dict[str, Any], key: str, scopes: list[str]) -> None:
        """Add an admin-consented delegated grant."""
        self.data.oauth2PermissionGrants.append({
            "id": oid("grant", sp["id"], key), "clientId": sp["id"], "consentType": "AllPrincipals",
            "principalId": None, "resourceId": oid("sp", key), "scope": " ".join(scopes)})

    def assign(self, sp: dict[str, Any], key: str, role: str) -> None:
        """Add an app role assignment (admin consent for an application permission)."""
        self.data.appRoleAssignments.append({
            "id": oid("assignment", sp["id"], role), "deletedDateTime": None, "appRoleId": APP_ROLES[key][role],
            "createdDateTime": _when(self.now), "principalDisplayName": sp["displayName"], "principalId": sp["id"],
            "principalType": "ServicePrincipal", "resourceDisplayName": key, "resourceId": oid("sp", key)})


CORRECT, BLOG, FULL_ACCESS, MULTI = "Scanner", "Mail client from the blog", "EWS daemon", "Shared SMTP relay"
DELETED_APP = oid("client", "deleted app")


def planted(now: datetime) -> GraphData:
    """Return the test tenant: a correct app, the planted mistakes, and an app that is no mail app."""
    data = GraphData(servicePrincipals=[_first_party(GRAPH), _first_party(EXO)])
    b = Builder(data, now)
    correct = b.app(CORRECT, [(EXO, "Role", "IMAP.AccessAsApp"), (EXO, "Role", "SMTP.SendAsApp")],
                    secret_days=(-10, 80))
    sp = b.principal(correct)
    b.assign(sp, EXO, "IMAP.AccessAsApp")
    b.assign(sp, EXO, "SMTP.SendAsApp")
    blog = b.app(BLOG, [(GRAPH, "Scope", "IMAP.AccessAsUser.All"), (GRAPH, "Scope", "SMTP.Send"),
                        (GRAPH, "Scope", "offline_access"), (GRAPH, "Scope", "User.Read")],
                 secret_days=(-30, 700), web=("http://mail.contoso.example/callback",), owners=False)
    b.grant(b.principal(blog), GRAPH, ["IMAP.AccessAsUser.All", "SMTP.Send", "offline_access", "User.Read"])
    full = b.app(FULL_ACCESS, [(EXO, "Role", "full_access_as_app"), (EXO, "Role", "IMAP.AccessAsApp")],
                 secret_days=(-170, 5))
    sp = b.principal(full)
    b.assign(sp, EXO, "full_access_as_app")
    b.assign(sp, GRAPH, "Mail.Read")
    multi = b.app(MULTI, [(EXO, "Role", "SMTP.SendAsApp")], audience="AzureADMultipleOrgs", cert_days=(-400, -1),
                  federated=True)
    b.assign(b.principal(multi), EXO, "SMTP.SendAsApp")
    b.principal(b.app("HR portal", [(GRAPH, "Scope", "User.Read")]))
    return data


def fleet(now: datetime, count: int) -> GraphData:
    """Return a tenant with `count` correct app-only mail apps (for the bench)."""
    data = GraphData(servicePrincipals=[_first_party(GRAPH), _first_party(EXO)])
    b = Builder(data, now)
    for i in range(count):
        sp = b.principal(b.app(f"Scanner {i:04d}", [(EXO, "Role", "IMAP.AccessAsApp")], secret_days=(-1, 90)))
        b.assign(sp, EXO, "IMAP.AccessAsApp")
    return data


def write_export(data: GraphData, path: Path) -> Path:
    """Write the Exchange export of the test tenant: two right registrations, the ObjectId mix-up, and an orphan."""
    apps = {a["displayName"]: a for a in data.applications}
    sps = {s["displayName"]: s for s in data.servicePrincipals}
    principals = [
        {"appId": apps[CORRECT]["appId"], "objectId": sps[CORRECT]["id"], "displayName": CORRECT},
        {"appId": apps[BLOG]["appId"], "objectId": apps[BLOG]["id"], "displayName": BLOG},
        {"appId": apps[MULTI]["appId"], "objectId": sps[MULTI]["id"], "displayName": MULTI},
        {"appId": DELETED_APP, "objectId": oid("sp", "deleted app"), "displayName": "Old scanner"},
    ]
    permissions = [
        {"mailbox": "scanner@contoso.example", "principalObjectId": sps[CORRECT]["id"], "rights": ["FullAccess"]},
        {"mailbox": "scanner@contoso.example", "principalObjectId": sps[CORRECT]["id"], "rights": ["SendAs"]},
        {"mailbox": "relay@contoso.example", "principalObjectId": sps[MULTI]["id"], "rights": ["FullAccess"]},
        {"mailbox": "old-scans@contoso.example", "principalObjectId": oid("sp", "deleted app"),
         "rights": ["FullAccess"]},
    ]
    path.write_text(json.dumps({"format": FORMAT, "servicePrincipals": principals,
                                "mailboxPermissions": permissions}), encoding="utf-8")
    return path
