"""The offline plan's stand-in for the engine and the azuread provider.

Look-ups are answered with Microsoft's real first-party IDs (the same in every tenant), so the plan shows the
permission IDs `pulumi up` will send. Only per-tenant objects get stand-in IDs (docs/reference.md "Offline plan").
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pulumi

from exo_domain.microsoft import API_DISPLAY_NAMES, APP_ROLES, PUBLISHED_APP_IDS, SCOPES, TYPE_TOKENS

STANDIN_KINDS = {
    "application": "a991",
    "client": "c11e",
    "service-principal": "5e71",
    "first-party-service-principal": "f125",
    "credential": "6e71",
    "grant": "9a47",
}
"""The second group of a stand-in GUID says what kind of object it stands for."""

STANDIN_SECRET = "not-a-real-secret-plan-stand-in"
"""The value the plan's ApplicationPassword returns; it must never show in plan output."""

_TOKENS = TYPE_TOKENS
PUBLISHED_APP_IDS_TOKEN = TYPE_TOKENS["publishedAppIds"]
SERVICE_PRINCIPAL_TOKEN = TYPE_TOKENS["getServicePrincipal"]


def standin_id(stack: str, kind: str, name: str) -> str:
    """Return a deterministic, obviously fake GUID: `00000000-<kind code>-4000-8000-<12 hex of a hash>`."""
    digest = hashlib.sha256(f"{stack}\0{kind}\0{name}".encode()).hexdigest()
    return f"00000000-{STANDIN_KINDS[kind]}-4000-8000-{digest[:12]}"


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class PlanMocks(pulumi.runtime.Mocks):
    """Answers registrations and look-ups for one stack, and records the look-ups."""

    def __init__(self, stack: str, now: datetime) -> None:
        self.stack = stack
        self.now = now
        self.invokes: list[dict[str, Any]] = []
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        """The wire inputs of each registration by (type, name), for the monitor that records the plan."""

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        """Answer getApplicationPublishedAppIds and getServicePrincipal as the tenant would."""
        if args.token == PUBLISHED_APP_IDS_TOKEN:
            result: dict[str, Any] = {"id": "published", "result": dict(PUBLISHED_APP_IDS)}
        elif args.token == SERVICE_PRINCIPAL_TOKEN:
            result = self._first_party_principal(str(args.args.get("clientId", "")))
        else:
            msg = f"the offline plan cannot answer the look-up {args.token}"
            raise NotImplementedError(msg)
        self.invokes.append({"token": args.token, "args": dict(args.args), "result": result})
        return result

    def _first_party_principal(self, client_id: str) -> dict[str, Any]:
        for key, app_id in PUBLISHED_APP_IDS.items():
            if app_id == client_id:
                return {
                    "id": standin_id(self.stack, "first-party-service-principal", key),
                    "objectId": standin_id(self.stack, "first-party-service-principal", key),
                    "clientId": app_id,
                    "displayName": API_DISPLAY_NAMES[key],
                    "appRoleIds": dict(APP_ROLES[key]),
                    "oauth2PermissionScopeIds": dict(SCOPES[key]),
                }
        msg = f"the offline plan knows no first-party service principal with client id {client_id}"
        raise NotImplementedError(msg)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Return the stand-in id and state the provider would return for a created resource."""
        self.inputs[args.typ, args.name] = args.inputs
        state = dict(args.inputs)
        name = args.name
        if args.typ == _TOKENS["application"]:
            object_id = standin_id(self.stack, "application", name)
            state |= {"objectId": object_id, "clientId": standin_id(self.stack, "client", name)}
            return f"/applications/{object_id}", state
        if args.typ == _TOKENS["servicePrincipal"]:
            object_id = standin_id(self.stack, "service-principal", name)
            return object_id, state | {"objectId": object_id}
        if args.typ == _TOKENS["rotating"]:
            start = self.now.replace(microsecond=0)
            rotation = start + timedelta(days=int(state.get("rotationDays", 0)))
            return _rfc3339(start), state | {"rfc3339": _rfc3339(start), "rotationRfc3339": _rfc3339(rotation)}
        if args.typ in (_TOKENS["password"], _TOKENS["certificate"]):
            key_id = standin_id(self.stack, "credential", name)
            extra = {"keyId": key_id, "value": STANDIN_SECRET} if args.typ == _TOKENS["password"] else {"keyId": key_id}
            return key_id, state | extra
        if args.typ == _TOKENS["federated"]:
            credential_id = standin_id(self.stack, "credential", name)
            return credential_id, state | {"credentialId": credential_id}
        # The time provider's id for a Static is its RFC 3339 value (its `pulumi import` takes that value).
        static = args.typ == _TOKENS["static"]
        return str(state.get("rfc3339", "")) if static else standin_id(self.stack, "grant", name), state
