"""Consents on a deployed app's service principal that its stack does not declare: drift `pulumi refresh` cannot see.

Someone adds `full_access_as_app` or Microsoft Graph `Mail.Read` to the app in the portal: the new app role
assignment or delegated grant is not in the Pulumi state, so a refresh never shows it. This reads, with the
read-only Graph client audit uses, the app role assignments granted to the service principal
(`GET /servicePrincipals/{id}/appRoleAssignments`) and the delegated grants it holds as a client
(`GET /oauth2PermissionGrants?$filter=clientId eq '{id}'`), and names each permission the stack's outputs do not
list. GET only; one request per collection page plus one per distinct resource API named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from exo_domain.outputs import AppOutputs, StackOutputs

from ..fleet.drift import CLEAN, DRIFT, NOT_RUN, CheckResult
from ..util.microsoft_ids import PUBLISHED_APP_IDS
from .graph import PAGE_SIZE, GraphClient, GraphError


def undeclared_consents(client: GraphClient, app: AppOutputs) -> list[str]:
    """Return, in words, each consent on `app`'s service principal that `app.permissions` does not declare."""
    principal = app.service_principal_object_id
    resources: dict[str, dict[str, Any]] = {}

    def resource(resource_id: str) -> dict[str, Any]:
        if resource_id not in resources:
            resources[resource_id] = client.get(f"servicePrincipals/{resource_id}",
                                                {"$select": "id,appId,displayName,appRoles"})
        return resources[resource_id]

    roles = {p.id.lower() for p in app.permissions if p.kind == "Role"}
    scopes = {(PUBLISHED_APP_IDS.get(p.api, p.api), p.name) for p in app.permissions if p.kind == "Scope"}
    found = []
    for assignment in client.get_all(f"servicePrincipals/{principal}/appRoleAssignments", {"$top": str(PAGE_SIZE)}):
        if str(assignment.get("appRoleId", "")).lower() in roles:
            continue
        api = resource(str(assignment["resourceId"]))
        name = _role_value(api.get("appRoles") or [], str(assignment.get("appRoleId", "")))
        found.append(f"application permission {api.get('displayName') or api.get('appId')} {name} "
                     f"(app role assignment {assignment.get('id')})")
    for grant in client.get_all("oauth2PermissionGrants", {"$filter": f"clientId eq '{principal}'"}):
        api = resource(str(grant["resourceId"]))
        extra = [s for s in str(grant.get("scope") or "").split() if (str(api.get("appId")), s) not in scopes]
        if extra:
            who = "all users" if grant.get("consentType") == "AllPrincipals" else f"user {grant.get('principalId')}"
            found.append(f"delegated permission {api.get('displayName') or api.get('appId')} {' '.join(extra)} "
                         f"(grant {grant.get('id')} for {who})")
    return found


def _role_value(app_roles: Sequence[Any], role_id: str) -> str:
    role = next((r for r in app_roles if isinstance(r, dict) and str(r.get("id", "")).lower() == role_id.lower()),
                None)
    return str(role.get("value")) if role else f"app role {role_id}"


def consents_check(outputs: StackOutputs | None, open_client: Callable[[], GraphClient] | None) -> CheckResult:
    """Read each app's consents from Graph: an app role assignment or delegated grant the stack lacks is drift.

    `open_client` signs in (tenant/signin.py, as audit does); None means no Graph credential was given.
    """
    if open_client is None:
        return CheckResult("consents", NOT_RUN, "needs a read-only Graph sign-in: --graph-client-id with "
                           "--graph-secret-env (Application.Read.All and Directory.Read.All, as for audit)")
    if outputs is None:
        return CheckResult("consents", NOT_RUN, "the stack outputs are not available; pass --outputs FILE or "
                           "install the pulumi CLI")
    try:
        client = open_client()
        found = [f"app {name}: {what}" for name, app in sorted(outputs.apps.items())
                 for what in undeclared_consents(client, app)]
    except GraphError as error:
        return CheckResult("consents", NOT_RUN, f"Microsoft Graph could not be read: {error}")
    if not found:
        return CheckResult("consents", CLEAN, "every app role assignment and delegated grant is declared")
    return CheckResult("consents", DRIFT, "; ".join(found) + " -- not declared by the stack: revoke it in Entra ID "
                       "(Enterprise applications > Permissions), or add what the app really needs to the stack")
