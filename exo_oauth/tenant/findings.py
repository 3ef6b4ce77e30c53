"""What is wrong with a tenant's mail apps: each finding has a stable code, the object, and the fix.

The target is the one-home-per-fact table the program deploys: app-only apps hold Office 365 Exchange Online's
IMAP/POP/SMTP application permissions; delegated apps hold Exchange Online's delegated mail scopes plus Microsoft
Graph's openid, profile and offline_access, which msal asks for itself (docs/decisions/0080).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from exo_domain.config import PROTOCOLS
from exo_domain.microsoft import EXCHANGE_ONLINE, MICROSOFT_GRAPH, SINGLE_TENANT
from exo_domain.permissions import APP_ONLY_ROLES, DELEGATED_SCOPES, permissions_for
from exo_domain.redirect_uris import redirect_uri_problem

from ..policy.rules import PolicyConfig
from ..review.markdown import escape
from ..util.days import day_count, days_until
from ..util.microsoft_ids import API_DISPLAY_NAMES
from .exchange_export import ExchangeExport
from .inventory import Application, KeyCredential, Permission, ServicePrincipal, Tenant

_UNREQUESTED = ("removes it from the app's requested permissions; an app role assignment the stack does not declare "
                "stays until revoked by hand, or adopt --revoke-excess lists it for deletion (adopt-revoked)")
EWS_SCOPE = "EWS.AccessAsUser.All"
FULL_ACCESS_AS_APP = "full_access_as_app"


@dataclass(frozen=True)
class Rule:
    """What one finding code means, how bad it is, and the fix."""

    code: str
    severity: str
    """`high`, `medium` or `low`."""
    title: str
    fix: str
    adopt: str
    """What the first `pulumi up` of an adopted stack does about it."""


RULES = {r.code: r for r in (
    Rule("graph-mail-scope", "high", "IMAP/POP/SMTP delegated permission on Microsoft Graph",
         "Mail clients get tokens for Office 365 Exchange Online, whose consent this does not cover: request and "
         "grant the scope on Office 365 Exchange Online and remove it from Microsoft Graph.",
         "requests and grants the scope on Office 365 Exchange Online and removes the Microsoft Graph one"),
    Rule("full-access-as-app", "high", "full_access_as_app (EWS full access to every mailbox)",
         "Remove it; IMAP.AccessAsApp, POP.AccessAsApp or SMTP.SendAsApp plus per-mailbox Exchange permissions give "
         "a mail client what it needs.", _UNREQUESTED),
    Rule("graph-mail-permission", "high", "Microsoft Graph Mail.* permission",
         "Remove it: IMAP, POP and SMTP AUTH never use it, and it opens mail through Graph.", _UNREQUESTED),
    Rule("ews-permission", "medium", "EWS permission", "Remove it unless the app really uses EWS; IMAP, POP and "
         "SMTP AUTH do not.", _UNREQUESTED),
    Rule("extra-permission", "medium", "a permission beyond the app's mail protocols",
         "Remove it, or keep it out of this app: least privilege is one job per app.",
         _UNREQUESTED),
    Rule("multi-tenant", "high", "multi-tenant app holds mail access",
         "Set the sign-in audience to 'My organization only' (AzureADMyOrg), or for another tenant's app review "
         "whether it should hold mail access here.", "sets the sign-in audience to AzureADMyOrg"),
    Rule("credential-expired", "high", "expired secret or certificate",
         "Remove it from the app registration.", "leaves it; remove it by hand"),
    Rule("credential-expiring", "medium", "secret or certificate expires within the warning window",
         "Add the next credential, move the devices to it, then remove this one.",
         "adds a new secret or certificate; this one stays until its own end date"),
    Rule("credential-too-long", "medium", "secret or certificate lives longer than the policy maximum",
         "Replace it with one that lives at most the policy maximum.",
         "adds a new credential within the maximum; this one stays until its own end date"),
    Rule("insecure-redirect", "high", "redirect URI without HTTPS",
         "Use an https:// URI; only public clients may use http://localhost or http://127.0.0.1.",
         "keeps the URI out of the stack, so `pulumi up` removes it"),
    Rule("no-owners", "low", "no owners", "Add at least one owner who answers for the app.",
         "sets the owners the stack names (adopt's --default-owner for an app without)"),
    Rule("requested-not-consented", "medium", "requested permission without admin consent",
         "Grant admin consent for it, or stop requesting it.", "grants admin consent as code"),
    Rule("consented-not-requested", "medium", "consent without a requested permission",
         "Revoke the consent, or add the permission to the app registration so reviewers see it.",
         "leaves a consent it does not declare; revoke it by hand, or adopt with --revoke-excess (adopt-revoked)"),
    Rule("exchange-sp-app-object-id", "high", "Exchange service principal uses the application's object id",
         "Remove-ServicePrincipal it and run New-ServicePrincipal with the enterprise app's (service principal's) "
         "object id; the generated exchange-apply.ps1 does that.",
         "the generated exchange-apply.ps1 re-registers it with the service principal's object id"),
    Rule("exchange-sp-unknown-app", "medium", "Exchange service principal whose AppId matches no app",
         "Remove-ServicePrincipal it (and its mailbox permissions) unless the app lives in another tenant.",
         "nothing: it is not part of the stack"),
    Rule("exchange-orphan-permission", "high", "mailbox permission held by a service principal that no longer "
         "exists in Entra ID",
         "Remove-MailboxPermission / Remove-RecipientPermission it, then Remove-ServicePrincipal.",
         "nothing: it is not part of the stack"),
    Rule("adopt-skipped", "low", "app not adopted", "Add what the finding names and run adopt again, or manage the "
         "app by hand.", "nothing: the stack leaves the app alone"),
    Rule("adopt-new-secret", "low", "secret cannot be imported", "Move devices to the new secret (stack output "
         "clientSecrets) before the old one's end date.",
         "adds a new secret; the existing one stays valid until its own end date"),
    Rule("adopt-redirect-dropped", "medium", "redirect URI the stack cannot declare",
         "Sign in through a redirect URI the stack accepts (https://, or http://localhost or http://127.0.0.1 on a "
         "public client; no single-page-app platform), or manage the app by hand.",
         "removes the URI from the app registration"),
    Rule("adopt-redirect-moved", "low", "redirect URI on the other platform",
         "Nothing, if the app signs in as the stack declares it: a public client's redirect URIs on the public-client "
         "(mobile and desktop) platform, a confidential client's on the web platform.",
         "moves the URI to the platform the stack declares"),
    Rule("adopt-certificate-replaced", "medium", "imported certificate is replaced",
         "Nothing: the device keeps its certificate and key. Entra ID never returns a certificate's value to the "
         "provider, so the stack registers the same public key again (docs/decisions/0121).",
         "replaces it: registers the same public key under a new key id and end date, then deletes the imported "
         "registration; the device keeps signing in with its key throughout"),
    Rule("adopt-assignment-required", "low", "only assigned users and groups may sign in",
         "Nothing: the stack keeps appRoleAssignmentRequired: true; assign users or groups under Enterprise "
         "applications.", "keeps it: only assigned users and groups get tokens, as before"),
    Rule("adopt-revoked", "high", "consent listed for deletion (--revoke-excess)",
         "Check first that no device depends on it: a daemon may use full_access_as_app or a Graph permission.",
         "deletes it: the import file lists it under a name the program does not declare"),
    Rule("adopt-not-imported", "medium", "object missing in the tenant", "Nothing to do: `pulumi up` creates it.",
         "creates the object"),
)}
"""Every finding code, in report order."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one object."""

    code: str
    subject: str
    """The object, e.g. `application 'Scanner' (appId ..., object id ...)`."""
    detail: str

    @property
    def rule(self) -> Rule:
        """The finding's rule."""
        return RULES[self.code]


def mail_use(permissions: tuple[Permission, ...]) -> tuple[str, tuple[str, ...]]:
    """Return the flow and the protocols the permissions show (on either API); app-only wins when both show."""
    roles = {p.name for p in permissions if p.kind == "Role"}
    scopes = {p.name for p in permissions if p.kind == "Scope" and p.api in (EXCHANGE_ONLINE, MICROSOFT_GRAPH)}
    app_only = tuple(p for p in PROTOCOLS if APP_ONLY_ROLES[p] in roles)
    if app_only or FULL_ACCESS_AS_APP in roles:
        return "app-only", app_only
    return "delegated", tuple(p for p in PROTOCOLS if DELEGATED_SCOPES[p] in scopes)


def _label(permission: Permission) -> str:
    api = API_DISPLAY_NAMES.get(permission.api, f"API {permission.api}")
    kind = "application permission" if permission.kind == "Role" else "delegated permission"
    return f"{api} {permission.name} ({kind})"


def _key(permission: Permission) -> tuple[str, str, str]:
    return permission.api, permission.kind, permission.name


def permission_code(permission: Permission, target: frozenset[tuple[str, str, str]]) -> str | None:
    """Return the finding code for a permission outside the target, or None if it belongs."""
    if _key(permission) in target:
        return None
    if permission.api == MICROSOFT_GRAPH and permission.name in DELEGATED_SCOPES.values():
        return "graph-mail-scope"
    if permission.name == FULL_ACCESS_AS_APP:
        return "full-access-as-app"
    if permission.api == MICROSOFT_GRAPH and permission.name.startswith("Mail."):
        return "graph-mail-permission"
    if permission.name == EWS_SCOPE:
        return "ews-permission"
    return "extra-permission"


def describe_application(app: Application) -> str:
    """Name an app registration for reports."""
    return f"application {app.display_name!r} (appId {app.app_id}, object id {app.object_id})"


def describe_principal(principal: ServicePrincipal) -> str:
    """Name a service principal for reports."""
    return f"service principal {principal.display_name!r} (appId {principal.app_id}, object id {principal.object_id})"


def _permission_findings(subject: str, requested: tuple[Permission, ...],
                         consented: tuple[Permission, ...]) -> Iterator[Finding]:
    flow, protocols = mail_use((*requested, *consented))
    target = frozenset((p.api, p.kind, p.name) for p in permissions_for(flow, protocols))
    requested_keys = {_key(p) for p in requested}
    consented_keys = {_key(p) for p in consented}
    for permission in dict.fromkeys((*requested, *consented)):
        where = " and ".join(w for w, keys in (("requested", requested_keys), ("consented", consented_keys))
                             if _key(permission) in keys)
        code = permission_code(permission, target)
        if code is not None:
            yield Finding(code, subject, f"{_label(permission)}, {where}")
    for permission in requested:
        if _key(permission) in target and _key(permission) not in consented_keys:
            yield Finding("requested-not-consented", subject, _label(permission))
    for permission in consented:
        if _key(permission) not in requested_keys:
            yield Finding("consented-not-requested", subject, _label(permission))


def _credential_findings(subject: str, credential: KeyCredential, now: datetime,
                         policy: PolicyConfig) -> Iterator[Finding]:
    what = f"{credential.kind} {credential.display_name!r} (key id {credential.key_id})"
    if credential.end is None:
        return
    if credential.end <= now:
        yield Finding("credential-expired", subject, f"{what} expired on {credential.end:%Y-%m-%d}")
        return
    # The same thresholds as the policy rules credential-expires-soon and credential-max-lifetime, in the same
    # whole UTC calendar days (exo_oauth/util/days.py), so audit and plan agree on every credential.
    if credential.end - now <= timedelta(days=policy.expiry_warning_days):
        left = day_count(days_until(credential.end, now))
        yield Finding("credential-expiring", subject, f"{what} expires on {credential.end:%Y-%m-%d}, in {left} "
                      f"(warning window {policy.expiry_warning_days} days)")
    start = credential.start or now
    lifetime = days_until(credential.end, start)
    if lifetime > policy.max_credential_days:
        yield Finding("credential-too-long", subject, f"{what} lives {lifetime} days "
                      f"({start:%Y-%m-%d} to {credential.end:%Y-%m-%d}); policy maximum {policy.max_credential_days}")


def _application_findings(tenant: Tenant, app: Application, now: datetime,
                          policy: PolicyConfig) -> Iterator[Finding]:
    subject = describe_application(app)
    principal = tenant.principal_of(app)
    yield from _permission_findings(subject, app.requested, tenant.consented(principal) if principal else ())
    if app.sign_in_audience != SINGLE_TENANT:
        yield Finding("multi-tenant", subject, f"signInAudience is {app.sign_in_audience}")
    for credential in app.credentials:
        yield from _credential_findings(subject, credential, now, policy)
    for uri in (*app.web_redirects, *app.spa_redirects, *app.public_redirects):
        problem = redirect_uri_problem(uri, public_client=uri in app.public_redirects)
        if problem:
            yield Finding("insecure-redirect", subject, f"{uri} {problem}")
    if not app.owners:
        yield Finding("no-owners", subject, "the app registration has no owners")


def _foreign_findings(tenant: Tenant) -> Iterator[Finding]:
    """Principals holding mail consent whose app is registered in another tenant."""
    local = {app.app_id for app in tenant.applications}
    for principal in tenant.principals.values():
        if principal.app_id in local:
            continue
        subject = describe_principal(principal)
        if principal.owner_tenant.lower() != tenant.tenant_id:
            yield Finding("multi-tenant", subject, f"the app is registered in tenant {principal.owner_tenant or '?'}")
        yield from _permission_findings(subject, (), tenant.consented(principal))


def _exchange_findings(tenant: Tenant, export: ExchangeExport, known_app_ids: frozenset[str],
                       entra_principal_ids: frozenset[str]) -> Iterator[Finding]:
    by_object = {app.object_id.lower(): app for app in tenant.applications}
    orphans = set()
    for sp in export.principals:
        subject = f"Exchange service principal {sp.display_name!r} (AppId {sp.app_id}, ObjectId {sp.object_id})"
        if sp.object_id in by_object:
            yield Finding("exchange-sp-app-object-id", subject, "its ObjectId is the object id of application "
                          f"{by_object[sp.object_id].display_name!r}, not of its service principal")
            continue
        if sp.app_id not in known_app_ids:
            yield Finding("exchange-sp-unknown-app", subject, "no app or service principal in Entra ID has this "
                          "AppId")
        if sp.object_id not in entra_principal_ids:
            orphans.add(sp.object_id)
    names = {sp.object_id: sp.display_name for sp in export.principals}
    for permission in export.permissions:
        if permission.principal_object_id in orphans:
            yield Finding("exchange-orphan-permission", f"mailbox {permission.mailbox}",
                          f"{', '.join(permission.rights)} held by {names.get(permission.principal_object_id, '')!r} "
                          f"(ObjectId {permission.principal_object_id}), which is no service principal in Entra ID")


def audit(tenant: Tenant, now: datetime, policy: PolicyConfig, export: ExchangeExport | None = None,
          entra: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())) -> list[Finding]:
    """Return every finding, in RULES order then object order.

    `entra` is (app ids, service principal object ids) that exist in Entra ID beyond the mail apps, as looked up
    for the Exchange export's principals (inventory.lookup_principals).
    """
    found: list[Finding] = []
    for app in tenant.applications:
        found.extend(_application_findings(tenant, app, now, policy))
    found.extend(_foreign_findings(tenant))
    if export is not None:
        app_ids = frozenset({*(a.app_id for a in tenant.applications), *(p.app_id for p in tenant.principals.values()),
                             *entra[0]})
        principal_ids = frozenset({*tenant.principals, *entra[1]})
        found.extend(_exchange_findings(tenant, export, app_ids, principal_ids))
    order = list(RULES)
    return sorted(dict.fromkeys(found), key=lambda f: (order.index(f.code), f.subject, f.detail))


def codes_table() -> str:
    """Return the markdown table of every finding code, for docs/adopting.md (checked by a test)."""
    lines = ["| Code | Severity | Finding | Fix | First `pulumi up` of an adopted stack |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{r.code}` | {r.severity} | {escape(r.title)} | {escape(r.fix)} | {escape(r.adopt)} |"
              for r in RULES.values()]
    return "\n".join(lines) + "\n"
