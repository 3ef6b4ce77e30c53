"""Build Exchange script inputs for tests: the `apps` stack output of a stack, with deterministic stand-in IDs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from exo_domain.config import AppConfig, ExchangeConfig, Mailbox, StackConfig
from exo_domain.exchange_scripts import ExchangeInputs, exchange_inputs
from exo_domain.microsoft import DEFAULT_CLOUD
from exo_domain.outputs import AppOutputs, CredentialOutput, PermissionOutput, endpoints_for
from exo_domain.permissions import admin_consent_url, permissions_for, token_scopes
from exo_domain.schema import EXCHANGE_ACCESS, RBAC
from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.mocks import standin_id
from tests.stack_factory import PROJECT

TENANT = "11111111-2222-4333-8444-555555555555"
_STANDIN_KINDS = {
    "clientId": ("client", "app"),
    "applicationObjectId": ("application", "app"),
    "servicePrincipalObjectId": ("service-principal", "sp"),
}


def standin(stack: str, app: str, kind: str) -> str:
    """Return the offline plan's stand-in for one of an app's IDs, so tests and the plan render the same scripts."""
    standin_kind, resource = _STANDIN_KINDS[kind]
    return standin_id(stack, standin_kind, f"{app}-{resource}")


def deployed(standin_id: str) -> str:
    """Return a GUID that looks like a real tenant's object id, derived from a stand-in (same hash, other prefix)."""
    return "d0d0d0d0" + standin_id[8:]


def wire_output(stack: str, tenant_id: str, name: str, display_name: str, flow: str, protocols: Sequence[str],
                mailboxes: Sequence[Mailbox], *, real_ids: bool = False,
                exchange_access: str = EXCHANGE_ACCESS[0]) -> dict[str, Any]:
    """Return one app's complete entry of the `apps` output, built through the outputs model.

    IDs are the offline plan's stand-ins, or with `real_ids` GUIDs such as a deployed stack reports.
    """
    def object_id(kind: str) -> str:
        value = standin(stack, name, kind)
        return deployed(value) if real_ids else value

    client_id = object_id("clientId")
    return AppOutputs(
        name=name,
        display_name=display_name,
        flow=flow,
        protocols=tuple(protocols),
        tenant_id=tenant_id,
        cloud=DEFAULT_CLOUD,
        client_id=client_id,
        application_object_id=object_id("applicationObjectId"),
        service_principal_object_id=object_id("servicePrincipalObjectId"),
        permissions=tuple(PermissionOutput(p.api, p.name, p.kind, str(uuid.uuid5(uuid.NAMESPACE_URL, p.name)))
                          for p in permissions_for(flow, protocols, exchange_access)),
        scopes=token_scopes(flow, protocols),
        admin_consent_url=admin_consent_url(tenant_id, client_id, flow, None),
        endpoints=endpoints_for(protocols),
        mailboxes=tuple(mailboxes),
        credential=CredentialOutput("none", None, None),
        exchange_access=exchange_access,
    ).to_wire()


def app_output(stack: str, app: AppConfig, tenant_id: str = TENANT, *, real_ids: bool = False) -> dict[str, Any]:
    """Return one app's entry of the `apps` output of `stack` (stand-in IDs unless `real_ids`)."""
    return wire_output(stack, tenant_id, app.name, app.display_name, app.flow, app.protocols, app.mailboxes,
                       real_ids=real_ids, exchange_access=app.exchange_access)


def apps_output(stack: str, config: StackConfig, *, real_ids: bool = False) -> dict[str, Any]:
    """Return the `apps` stack output of a stack (stand-in IDs, or deployed-looking ones with `real_ids`)."""
    return {app.name: app_output(stack, app, config.tenant_id, real_ids=real_ids) for app in config.apps}


def example(name: str, *, real_ids: bool = False) -> tuple[StackConfig, ExchangeInputs]:
    """Return an example stack's config and its renderer inputs (stand-in IDs unless `real_ids`)."""
    config = load_stack(PROJECT, name).config
    apps = apps_output(name, config, real_ids=real_ids)
    return config, exchange_inputs(name, config.tenant_id, apps, config.exchange)


def inputs_for(apps: dict[str, Any], exchange: ExchangeConfig | None = None, stack: str = "test") -> ExchangeInputs:
    """Return renderer inputs for hand-written `apps` outputs."""
    return exchange_inputs(stack, TENANT, apps, exchange or ExchangeConfig())


def app_only(name: str = "scanners", protocols: tuple[str, ...] = ("smtp",), **overrides: Any) -> dict[str, Any]:
    """Return one app-only app's output entry with two mailboxes, the second with sendAs."""
    flow = overrides.get("flow", "app-only")
    mailboxes = () if flow == "delegated" else (Mailbox("box@contoso.com"), Mailbox("sender@contoso.com", True))
    entry = wire_output("test", TENANT, name, f"{name} app", flow, protocols, mailboxes)
    return entry | overrides


def rbac_app(name: str = "printers", addresses: Sequence[str] = ("box@contoso.com", "sender@contoso.com"),
             ) -> dict[str, Any]:
    """Return one app-only SMTP app's output entry with exchangeAccess rbac: no permission, scoped mailboxes."""
    return wire_output("test", TENANT, name, f"{name} app", "app-only", ("smtp",),
                       tuple(Mailbox(a) for a in addresses), exchange_access=RBAC)


def delegated(name: str = "mail-clients", protocols: tuple[str, ...] = ("imap", "smtp"), **overrides: Any,
              ) -> dict[str, Any]:
    """Return one delegated app's output entry (no mailboxes; `overrides` such as signInGroup)."""
    return app_only(name, protocols, flow="delegated", mailboxes=[], **overrides)
