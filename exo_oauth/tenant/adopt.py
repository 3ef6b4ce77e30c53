"""Turn a tenant's mail apps into a stack file and a `pulumi import` file, so the first `pulumi up` takes them over.

The stack file says what the apps should be, in the stack config's own terms; the import file lists the provider
IDs of the objects that already exist, one entry per resource the program declares for them (docs/decisions/0082).
Whatever the config cannot express becomes a finding that says what `pulumi up` will change.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exo_domain.config import APP_NAME, PROJECT
from exo_domain.microsoft import TYPE_TOKENS
from exo_domain.redirect_uris import redirect_uri_problem
from exo_domain.schema import DEFAULT_FEDERATED_AUDIENCE, DEFAULT_LIFETIME_DAYS, MAX_APP_NAME, MAX_NOTES, MAX_TEXT

from ..util.microsoft_ids import API_DISPLAY_NAMES, APP_ROLES, PUBLISHED_APP_IDS
from .exchange_export import ExchangeExport
from .findings import Finding, describe_application, mail_use
from .inventory import Application, Tenant

COMPONENT_TYPE = TYPE_TOKENS["mailOAuthApp"]
CREATED_ON_PURPOSE = frozenset({TYPE_TOKENS["password"], TYPE_TOKENS["rotating"]})
"""Resources the first `pulumi up` creates even for an adopted app: a secret's value cannot be imported."""


@dataclass(frozen=True)
class Adopted:
    """One app as the stack will declare it, and the tenant objects it takes over."""

    app: Application
    config: dict[str, Any]
    """The app's entry under `exo-oauth:apps`."""
    certificate_key_id: str | None = None
    """The key id of the certificate the stack declares, when it is the app's existing one."""


def slug(display_name: str, taken: set[str]) -> str:
    """Return a stack app name derived from a display name: a-z, 0-9 and single '-', unique among `taken`."""
    base = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:MAX_APP_NAME].strip("-") or "app"
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = f"{base[:MAX_APP_NAME - len(suffix)].rstrip('-')}{suffix}", n + 1
    taken.add(name)
    assert APP_NAME.fullmatch(name), name  # noqa: S101 - the regex above guarantees it
    return name


def _mailboxes(app: Application, tenant: Tenant, export: ExchangeExport | None) -> list[Any]:
    if export is None:
        return []
    holders = {p.object_id for p in export.principals if p.app_id == app.app_id}
    principal = tenant.principal_of(app)
    if principal is not None:
        holders.add(principal.object_id)
    rights: dict[str, set[str]] = {}
    for permission in export.permissions:
        if permission.principal_object_id in holders:
            rights.setdefault(permission.mailbox.lower(), set()).update(permission.rights)
    return [{"address": box, "sendAs": True} if "SendAs" in held else box
            for box, held in sorted(rights.items()) if "FullAccess" in held]


def _pem(der_base64: str) -> str:
    body = "\n".join(textwrap.wrap(der_base64, 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def _credential(app: Application, flow: str, certificates: Mapping[str, str],
                found: list[Finding], subject: str) -> tuple[dict[str, Any], str | None]:
    if app.federated:
        fic = app.federated[0]
        audiences = list(fic.audiences) if fic.audiences != (DEFAULT_FEDERATED_AUDIENCE,) else []
        # Graph never renames a federated credential and the provider replaces it on a new name, creating the
        # second one with the same issuer and subject first, which Graph refuses (docs/decisions/0120).
        return {"type": "federated", "issuer": fic.issuer, "subject": fic.subject,
                **({"audiences": audiences} if audiences else {}), **({"name": fic.name} if fic.name else {})}, None
    for credential in app.credentials:
        if credential.kind == "certificate" and credential.key_id in certificates:
            found.append(Finding("adopt-certificate-replaced", subject, f"certificate key id {credential.key_id}"))
            return {"type": "certificate", "publicKeyPem": _pem(certificates[credential.key_id])}, credential.key_id
    if flow == "delegated" and app.public_client and not app.credentials:
        return {"type": "none"}, None
    found.append(Finding("adopt-new-secret", subject, "secret values cannot be imported"))
    return {"type": "secret", "lifetimeDays": DEFAULT_LIFETIME_DAYS}, None


def adopt_app(app: Application, tenant: Tenant, export: ExchangeExport | None, taken: set[str], *,
              default_owner: str | None, certificates: Mapping[str, str]) -> tuple[Adopted | None, list[Finding]]:
    """Return the app's stack entry, or None with the reason as a finding; also the adopt-only findings."""
    subject = describe_application(app)
    principal = tenant.principal_of(app)
    flow, protocols = mail_use((*app.requested, *(tenant.consented(principal) if principal else ())))
    if not protocols:
        return None, [Finding("adopt-skipped", subject, "it holds no IMAP, POP or SMTP permission to adopt")]
    owners = list(app.owners) or ([default_owner] if default_owner else [])
    if not owners:
        return None, [Finding("adopt-skipped", subject, "it has no owners; pass --default-owner GUID")]
    found: list[Finding] = []
    entry: dict[str, Any] = {"name": slug(app.display_name, taken), "displayName": app.display_name[:MAX_TEXT],
                             "flow": flow, "protocols": list(protocols)}
    if flow == "app-only":
        mailboxes = _mailboxes(app, tenant, export)
        if not mailboxes:
            taken.discard(entry["name"])
            return None, [Finding("adopt-skipped", subject, "no mailbox permissions found for it; pass the "
                                  "Exchange export (--exchange-export) or add them by hand")]
        entry["mailboxes"] = mailboxes
    public = flow == "delegated" and app.public_client
    if public:
        entry["publicClient"] = True
    credential, certificate_key_id = _credential(app, flow, certificates, found, subject)
    entry["credential"] = credential
    redirects = _redirects(app, public, found, subject)
    if redirects:
        entry["redirectUris"] = redirects
    entry["owners"] = owners
    if principal is not None and principal.assignment_required:
        entry["appRoleAssignmentRequired"] = True
        found.append(Finding("adopt-assignment-required", subject, "appRoleAssignmentRequired is true"))
    if app.notes:
        entry["notes"] = app.notes[:MAX_NOTES]
    tags = {t.lower(): t for t in reversed(app.tags) if t.strip() and len(t) <= MAX_TEXT}
    if tags:
        entry["tags"] = list(reversed(tags.values()))
    return Adopted(app, entry, certificate_key_id), found


def _redirects(app: Application, public: bool, found: list[Finding], subject: str) -> list[str]:
    """Return the redirect URIs the stack config accepts; the rest become findings, as `pulumi up` removes them.

    The stack registers all of an app's redirect URIs on one platform, public client when `public`, else web, and
    has no single-page-app platform.
    """
    kept: list[str] = []
    target = "public client" if public else "web"
    for platform, uris in (("web", app.web_redirects), ("public client", app.public_redirects),
                           ("single-page app", app.spa_redirects)):
        for uri in uris:
            problem = (_SPA_PROBLEM if platform == "single-page app"
                       else redirect_uri_problem(uri, public_client=public))
            if problem is not None:
                found.append(Finding("adopt-redirect-dropped", subject, f"{uri} ({platform} platform) {problem}"))
                continue
            kept.append(uri)
            if platform != target:
                found.append(Finding("adopt-redirect-moved", subject, f"{uri} moves from the {platform} platform "
                                     f"to the {target} platform"))
    return list(dict.fromkeys(kept))


_SPA_PROBLEM = "is a single-page-app redirect URI; the stack declares no single-page-app platform"


def _api_keys(stack: str) -> dict[str, str]:
    """Map the plan's stand-in object ids of the first-party service principals back to their API keys."""
    from ..plan.mocks import standin_id  # noqa: PLC0415 - imports Pulumi

    return {standin_id(stack, "first-party-service-principal", key): key for key in PUBLISHED_APP_IDS}


def import_file(stack: str, resources: Sequence[Mapping[str, Any]], adopted: Sequence[Adopted],
                tenant: Tenant, *, revoke_excess: bool = False) -> tuple[dict[str, Any], list[str], list[Finding]]:
    """Return the `pulumi import --file` document for the planned `resources`, the names left to create, and findings.

    With `revoke_excess` the findings name each consent the file lists for the first `pulumi up` to delete.
    `resources` are the registrations of the adopted stack's offline plan (plan.StackPlan.resources), so every
    entry has exactly the type, name and parent the program declares.
    """
    by_name = {a.config["name"]: a for a in adopted}
    api_keys = _api_keys(stack)
    entries: list[dict[str, Any]] = []
    created: list[str] = []
    revoked: list[Finding] = []
    children = [r for r in resources if r["type"] != COMPONENT_TYPE]
    for component in (r for r in resources if r["type"] == COMPONENT_TYPE):
        # The component first: `pulumi import` creates it empty, as the parent of what follows (Pulumi 3.94).
        entries.append({"type": component["type"], "name": component["name"], "component": True})
        owner = by_name.get(component["name"])
        for resource in (r for r in children if r.get("parent") == component["urn"]):
            import_id = _import_id(resource["type"], resource["inputs"], owner, tenant, api_keys) if owner else None
            if import_id is None:
                created.append(resource["name"])
            else:
                entries.append({"type": resource["type"], "name": resource["name"], "id": import_id,
                                "parent": component["name"]})
        if owner is not None and revoke_excess:
            taken = {e["id"] for e in entries if "id" in e}
            for entry, label in _excess(owner, tenant, taken):
                entries.append(entry | {"parent": component["name"]})
                revoked.append(Finding("adopt-revoked", describe_application(owner.app),
                                       f"{label}, listed as {entry['name']}"))
    return {"resources": _unique_names(entries)}, created, revoked


REVOKE_INFIX = "revoke"
"""Import entries named `<app>-revoke-...` are consents the program does not declare (no resource name of
components/mail_app.py has it), so the first `pulumi up` deletes them (docs/decisions/0123)."""


def _excess(adopted: Adopted, tenant: Tenant, imported: set[str]) -> list[tuple[dict[str, Any], str]]:
    """Return an import entry and a label for each of the app's consents on the APIs read that nothing imports."""
    principal = tenant.principal_of(adopted.app)
    if principal is None:
        return []
    apis = {api.object_id: api for api in tenant.apis.values() if api.object_id}
    app = adopted.config["name"]
    found: list[tuple[str, str, str, str]] = []
    for a in tenant.assignments:
        if a.principal_id == principal.object_id and a.resource_id in apis:
            role = apis[a.resource_id].roles.get(a.app_role_id, a.app_role_id)
            found.append((TYPE_TOKENS["appRoleAssignment"], role,
                          f"/servicePrincipals/{a.resource_id}/appRoleAssignedTo/{a.id}",
                          f"{role} on {API_DISPLAY_NAMES[apis[a.resource_id].key]} (app role assignment)"))
    for g in tenant.grants:
        if g.client_id == principal.object_id and g.resource_id in apis:
            whom = "all users" if g.consent_type == "AllPrincipals" else "one user"
            found.append((TYPE_TOKENS["grant"], f"grant-{apis[g.resource_id].key}", f"/oauth2PermissionGrants/{g.id}",
                          f"{' '.join(g.scopes) or 'no scopes'} on {API_DISPLAY_NAMES[apis[g.resource_id].key]} "
                          f"(delegated grant for {whom})"))
    names: set[str] = set()
    out = []
    for kind, what, import_id, label in found:
        if import_id in imported:
            continue
        base = f"{app}-{REVOKE_INFIX}-{re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-')}"
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        out.append(({"type": kind, "name": name, "id": import_id}, label))
    return out


def _unique_names(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rename the entries whose `name` another entry already uses, keeping the program's name as `logicalName`.

    `pulumi import` refuses a parent whose name two entries share ("has an ambiguous parent"; parseImportFile in
    pulumi/pulumi pkg/cmd/pulumi/operations/import.go at 0354637): the child `lobby-scanner-app` of app
    `lobby-scanner` and the app `lobby-scanner-app` would. Components keep their names, as children name them.
    """
    taken = {e["name"] for e in entries if e.get("component")}
    for entry in (e for e in entries if not e.get("component")):
        name, base, n = entry["name"], f"{entry['name']}-{entry['type'].rsplit(':', 1)[-1].lower()}", 2
        if name in taken:
            name = base
            while name in taken:
                name, n = f"{base}-{n}", n + 1
            entry["logicalName"] = entry["name"]
            entry["name"] = name
        taken.add(name)
    return entries


def _import_id(kind: str, inputs: Mapping[str, Any], adopted: Adopted, tenant: Tenant,
               api_keys: Mapping[str, str]) -> str | None:
    app = adopted.app
    principal = tenant.principal_of(app)
    fic = app.federated[0].id if app.federated else None
    own = {
        TYPE_TOKENS["application"]: f"/applications/{app.object_id}",
        TYPE_TOKENS["servicePrincipal"]: f"/servicePrincipals/{principal.object_id}" if principal else None,
        TYPE_TOKENS["certificate"]: f"{app.object_id}/certificate/{adopted.certificate_key_id}"
        if adopted.certificate_key_id else None,
        TYPE_TOKENS["federated"]: f"{app.object_id}/federatedIdentityCredential/{fic}" if fic else None,
    }
    if kind in own:
        return own[kind]
    if principal is None:
        return None
    if kind == TYPE_TOKENS["appRoleAssignment"]:
        return _assignment_id(tenant, principal.object_id, api_keys.get(str(inputs.get("resourceObjectId")), ""),
                              str(inputs.get("appRoleId")))
    if kind == TYPE_TOKENS["grant"]:
        api = tenant.apis.get(api_keys.get(str(inputs.get("resourceServicePrincipalObjectId")), ""))
        return next((f"/oauth2PermissionGrants/{g.id}" for g in tenant.grants if api is not None
                     and g.client_id == principal.object_id and g.resource_id == api.object_id
                     and g.consent_type == "AllPrincipals"), None)
    return None


def _assignment_id(tenant: Tenant, principal_id: str, api_key: str, role_id: str) -> str | None:
    """Return the import id of the principal's existing assignment of the role the plan declares (by value)."""
    api = tenant.apis.get(api_key)
    role = {v: k for k, v in APP_ROLES.get(api_key, {}).items()}.get(role_id)
    if api is None or role is None:
        return None
    return next((f"/servicePrincipals/{a.resource_id}/appRoleAssignedTo/{a.id}" for a in tenant.assignments
                 if a.principal_id == principal_id and a.resource_id == api.object_id
                 and api.roles.get(a.app_role_id) == role), None)


def stack_document(tenant_id: str, apps: Sequence[Adopted], organization: str | None) -> dict[str, Any]:
    """Return the stack file's document."""
    config: dict[str, Any] = {"azuread:tenantId": tenant_id, f"{PROJECT}:apps": [a.config for a in apps]}
    if organization:
        config[f"{PROJECT}:exchange"] = {"organization": organization}
    return {"config": config}
