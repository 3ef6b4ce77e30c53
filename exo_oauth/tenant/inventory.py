"""What a tenant holds for mail apps, read from Microsoft Graph v1.0 with GET requests only.

Round trips for a tenant with N app registrations, M of them mail apps (docs/adopting.md, "Cost"): one batch for the
two first-party service principals, one for their delegated grants and app role assignments (4 collections, and one
more per further round of pages), the principals holding mail consent (15 per request, 20 requests per batch), the
applications collection with its owners expanded (a page per 100 apps), and the mail apps' federated credentials and
missing service principals in batches of 20 (docs/decisions/0124).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from exo_domain.config import is_guid
from exo_domain.microsoft import EXCHANGE_ONLINE, MICROSOFT_GRAPH
from exo_domain.permissions import APP_ONLY_ROLES, DELEGATED_SCOPES

from ..util.days import parse_time
from ..util.microsoft_ids import APP_ROLES, PUBLISHED_APP_IDS, SCOPES
from .graph import PAGE_SIZE, GraphClient, Request

APPLICATION_FIELDS = ("id,appId,displayName,signInAudience,requiredResourceAccess,passwordCredentials,keyCredentials,"
                      "web,spa,publicClient,isFallbackPublicClient,notes,tags")
SP_FIELDS = "id,appId,displayName,appOwnerOrganizationId,appRoleAssignmentRequired"
IN_FILTER_MAX = 15
"""Graph takes at most 15 values in an `in` filter (docs/decisions/0081)."""
EXPAND_MAX = 20
"""Graph expands at most 20 directory objects of a relationship, without a next link (Graph known issue 13635,
https://developer.microsoft.com/en-us/graph/known-issues/?search=13635): an app showing 20 owners is read again."""
MAIL_NAMES = frozenset({*APP_ONLY_ROLES.values(), *DELEGATED_SCOPES.values()})
"""The IMAP, POP and SMTP permission names, on either API."""


@dataclass(frozen=True)
class Permission:
    """One permission on one API, requested by an app or consented to its service principal."""

    api: str
    """The API's key (MICROSOFT_GRAPH, EXCHANGE_ONLINE) or, for any other API, its application id."""
    kind: str
    """`Role` (application permission) or `Scope` (delegated)."""
    name: str
    """The permission's value, or its id when the API does not publish it."""
    id: str = ""


@dataclass(frozen=True)
class KeyCredential:
    """A secret (passwordCredential) or certificate (keyCredential) on an app registration."""

    kind: str
    """`secret` or `certificate`."""
    key_id: str
    display_name: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential on an app registration."""

    id: str
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    """A delegated permission grant (oauth2PermissionGrant)."""

    id: str
    client_id: str
    """Object id of the service principal the grant is for."""
    resource_id: str
    consent_type: str
    """`AllPrincipals` (admin consent) or `Principal` (one user's consent)."""
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class RoleAssignment:
    """An app role assignment (an application permission with admin consent)."""

    id: str
    principal_id: str
    resource_id: str
    app_role_id: str


@dataclass(frozen=True)
class ServicePrincipal:
    """A service principal (enterprise app) in the tenant."""

    object_id: str
    app_id: str
    display_name: str
    owner_tenant: str
    """appOwnerOrganizationId: the tenant that registered the app."""
    assignment_required: bool = False
    """appRoleAssignmentRequired: only assigned users and groups get tokens for the app."""


@dataclass(frozen=True)
class Application:
    """An app registration and what belongs to it."""

    object_id: str
    app_id: str
    display_name: str
    sign_in_audience: str
    requested: tuple[Permission, ...]
    credentials: tuple[KeyCredential, ...]
    web_redirects: tuple[str, ...]
    public_redirects: tuple[str, ...]
    spa_redirects: tuple[str, ...]
    fallback_public_client: bool
    notes: str
    tags: tuple[str, ...]
    owners: tuple[str, ...] = ()
    federated: tuple[FederatedCredential, ...] = ()

    @property
    def public_client(self) -> bool:
        """True if the app allows public-client flows (device code, loopback redirects)."""
        return self.fallback_public_client or bool(self.public_redirects)


@dataclass(frozen=True)
class Api:
    """A first-party API's service principal in the tenant and the permissions it publishes."""

    key: str
    app_id: str
    object_id: str
    roles: Mapping[str, str]
    """App role id -> value."""
    scopes: Mapping[str, str]
    """Scope id -> value."""


@dataclass(frozen=True)
class Tenant:
    """Every mail app of one tenant: registrations, service principals and their consents."""

    tenant_id: str
    apis: Mapping[str, Api]
    applications: tuple[Application, ...]
    """Mail apps registered in this tenant."""
    principals: Mapping[str, ServicePrincipal]
    """Service principals of mail apps (this tenant's or other tenants'), by object id."""
    grants: tuple[Grant, ...]
    assignments: tuple[RoleAssignment, ...]

    def principal_of(self, app: Application) -> ServicePrincipal | None:
        """Return the app's service principal in this tenant, if it has one."""
        return next((p for p in self.principals.values() if p.app_id == app.app_id), None)

    def consented(self, principal: ServicePrincipal) -> tuple[Permission, ...]:
        """Return every permission consented to `principal` on the first-party APIs (grants and assignments)."""
        by_object = {api.object_id: api for api in self.apis.values()}
        found: list[Permission] = []
        for grant in self.grants:
            if grant.client_id == principal.object_id and grant.resource_id in by_object:
                found.extend(Permission(by_object[grant.resource_id].key, "Scope", s) for s in grant.scopes)
        for assignment in self.assignments:
            api = by_object.get(assignment.resource_id)
            if assignment.principal_id == principal.object_id and api is not None:
                role = api.roles.get(assignment.app_role_id, assignment.app_role_id)
                found.append(Permission(api.key, "Role", role, assignment.app_role_id))
        return tuple(dict.fromkeys(found))


def _date(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return parse_time(text)


def _api_request(key: str) -> Request:
    return "servicePrincipals", {"$filter": f"appId eq '{PUBLISHED_APP_IDS[key]}'",
                                 "$select": "id,appId,appRoles,oauth2PermissionScopes"}


def _api(key: str, found: list[dict[str, Any]]) -> Api:
    app_id = PUBLISHED_APP_IDS[key]
    if not found:
        # A tenant without Exchange Online has no such principal; name permissions from Microsoft's fixed ids.
        return Api(key, app_id, "", {v: k for k, v in APP_ROLES.get(key, {}).items()},
                   {v: k for k, v in SCOPES.get(key, {}).items()})
    sp = found[0]
    return Api(key, app_id, str(sp["id"]), {str(r["id"]): str(r["value"]) for r in sp.get("appRoles") or []},
               {str(s["id"]): str(s["value"]) for s in sp.get("oauth2PermissionScopes") or []})


def _requested(raw: Any, apis: Mapping[str, Api]) -> tuple[Permission, ...]:
    by_app_id = {api.app_id: api for api in apis.values()}
    found = []
    for entry in raw or []:
        resource = str(entry.get("resourceAppId", "")).lower()
        api = by_app_id.get(resource)
        for access in entry.get("resourceAccess") or []:
            kind, pid = str(access.get("type")), str(access.get("id", "")).lower()
            table = (api.roles if kind == "Role" else api.scopes) if api else {}
            found.append(Permission(api.key if api else resource, kind, table.get(pid, pid), pid))
    return tuple(found)


def _credentials(raw: Mapping[str, Any]) -> tuple[KeyCredential, ...]:
    def one(kind: str, c: Mapping[str, Any]) -> KeyCredential:
        return KeyCredential(kind, str(c.get("keyId")), str(c.get("displayName") or ""),
                             _date(c.get("startDateTime")), _date(c.get("endDateTime")))

    # A keyCredential with usage Sign is a token-signing key, not a credential the app signs in with.
    return (*(one("secret", c) for c in raw.get("passwordCredentials") or []),
            *(one("certificate", c) for c in raw.get("keyCredentials") or [] if c.get("usage") in (None, "Verify")))


def _application(raw: Mapping[str, Any], apis: Mapping[str, Api]) -> Application:
    def uris(section: str) -> tuple[str, ...]:
        value = raw.get(section) or {}
        return tuple(str(u) for u in value.get("redirectUris") or [])

    return Application(
        object_id=str(raw["id"]), app_id=str(raw["appId"]).lower(), display_name=str(raw.get("displayName") or ""),
        sign_in_audience=str(raw.get("signInAudience") or ""), requested=_requested(raw.get("requiredResourceAccess"),
                                                                                     apis),
        credentials=_credentials(raw), web_redirects=uris("web"), public_redirects=uris("publicClient"),
        spa_redirects=uris("spa"), fallback_public_client=bool(raw.get("isFallbackPublicClient")),
        notes=str(raw.get("notes") or ""), tags=tuple(str(t) for t in raw.get("tags") or []),
    )


def is_mail_permission(permission: Permission) -> bool:
    """Return True for a permission that makes an app a mail app: any Exchange Online one, or IMAP/POP/SMTP on Graph."""
    return permission.api == EXCHANGE_ONLINE or (permission.api == MICROSOFT_GRAPH and permission.name in MAIL_NAMES)


def _principal(raw: Mapping[str, Any]) -> ServicePrincipal:
    return ServicePrincipal(str(raw["id"]), str(raw.get("appId", "")).lower(), str(raw.get("displayName") or ""),
                            str(raw.get("appOwnerOrganizationId") or ""), raw.get("appRoleAssignmentRequired") is True)


def _consents(client: GraphClient, apis: Mapping[str, Api]) -> tuple[tuple[Grant, ...], tuple[RoleAssignment, ...]]:
    ids = [api.object_id for api in apis.values() if api.object_id]
    read = client.get_all_many([r for i in ids for r in (
        ("oauth2PermissionGrants", {"$filter": f"resourceId eq '{i}'"}),
        (f"servicePrincipals/{i}/appRoleAssignedTo", {"$top": str(PAGE_SIZE)}))])
    grants = tuple(Grant(str(g["id"]), str(g["clientId"]), str(g["resourceId"]), str(g.get("consentType")),
                         tuple(str(g.get("scope") or "").split())) for g in (x for page in read[0::2] for x in page))
    assignments = tuple(RoleAssignment(str(a["id"]), str(a["principalId"]), str(a["resourceId"]), str(a["appRoleId"]))
                        for a in (x for page in read[1::2] for x in page))
    return grants, assignments


def read_tenant(client: GraphClient, tenant_id: str) -> Tenant:
    """Read every mail app of the tenant: app registrations, service principals, grants, assignments, owners."""
    keys = (MICROSOFT_GRAPH, EXCHANGE_ONLINE)
    apis = {key: _api(key, found) for key, found in zip(keys, client.get_all_many([_api_request(k) for k in keys]),
                                                        strict=True)}
    grants, assignments = _consents(client, apis)
    draft = Tenant(tenant_id, apis, (), {}, grants, assignments)
    principals: dict[str, ServicePrincipal] = {}
    holding = {g.client_id for g in grants} | {a.principal_id for a in assignments}
    holders = sorted(h for h in holding if is_guid(h) and any(
        is_mail_permission(p) for p in draft.consented(ServicePrincipal(h, "", "", ""))))
    chunks = [",".join(f"'{h}'" for h in holders[i:i + IN_FILTER_MAX]) for i in range(0, len(holders), IN_FILTER_MAX)]
    for page in client.get_all_many([("servicePrincipals", {"$filter": f"id in ({ids})", "$select": SP_FIELDS})
                                     for ids in chunks]):
        principals.update((str(raw["id"]), _principal(raw)) for raw in page)
    consented_apps = {p.app_id for p in principals.values()}
    mail_apps: list[tuple[Application, tuple[str, ...]]] = []
    for raw in client.get_all("applications", {"$select": APPLICATION_FIELDS, "$top": str(PAGE_SIZE),
                                               "$expand": "owners"}):
        app = _application(raw, apis)
        if app.app_id in consented_apps or any(is_mail_permission(p) for p in app.requested):
            mail_apps.append((app, tuple(str(o["id"]) for o in raw.get("owners") or [])))
    missing = [app.app_id for app, _ in mail_apps if app.app_id not in consented_apps]
    for found in client.get_all_many([("servicePrincipals", {"$filter": f"appId eq '{a}'", "$select": SP_FIELDS})
                                      for a in missing]):
        principals.update((str(sp["id"]), _principal(sp)) for sp in found[:1])
    more_owners = [app for app, owners in mail_apps if len(owners) >= EXPAND_MAX]
    owners_read = dict(zip((a.object_id for a in more_owners), client.get_all_many(
        [(f"applications/{a.object_id}/owners", {"$select": "id"}) for a in more_owners]), strict=True))
    federated = client.get_all_many([(f"applications/{app.object_id}/federatedIdentityCredentials", None)
                                     for app, _ in mail_apps])
    applications = tuple(
        replace(app, owners=tuple(str(o["id"]) for o in owners_read[app.object_id]) if app.object_id in owners_read
                else owners, federated=tuple(
                    FederatedCredential(str(f["id"]), str(f.get("name") or ""), str(f.get("issuer") or ""),
                                        str(f.get("subject") or ""), tuple(str(a) for a in f.get("audiences") or []))
                    for f in fics))
        for (app, owners), fics in zip(mail_apps, federated, strict=True))
    return Tenant(tenant_id, apis, applications, principals, grants, assignments)


def lookup_principals(client: GraphClient, tenant: Tenant, app_ids: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Look up the service principals of `app_ids` the tenant read did not cover (batched, one request each).

    Returns the app ids that have a service principal in Entra ID, and those principals' object ids: an Exchange
    export names principals of apps that hold no mail permission in Entra ID too (RBAC for Applications).
    """
    known = {app.app_id for app in tenant.applications} | {p.app_id for p in tenant.principals.values()}
    found = [sp for page in client.get_all_many([("servicePrincipals", {"$filter": f"appId eq '{app_id}'",
                                                                        "$select": SP_FIELDS})
                                                 for app_id in sorted(app_ids - known)]) for sp in page]
    return frozenset(str(sp["appId"]).lower() for sp in found), frozenset(str(sp["id"]) for sp in found)


def certificate_keys(client: GraphClient, applications: tuple[Application, ...]) -> dict[str, str]:
    """Return the base64 DER of the apps' certificates by key id (Graph returns `key` only for one object)."""
    keys: dict[str, str] = {}
    holders = [app for app in applications if any(c.kind == "certificate" for c in app.credentials)]
    for raw in client.get_many([(f"applications/{app.object_id}", {"$select": "keyCredentials"}) for app in holders]):
        keys.update((str(c["keyId"]), str(c["key"])) for c in raw.get("keyCredentials") or [] if c.get("key"))
    return keys
