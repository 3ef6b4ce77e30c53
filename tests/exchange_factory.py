"""Build Exchange script inputs for tests: the `apps` stack output of a stack, with deterministic stand-in IDs."""

from __future__ import annotations

from typing import Any

from components.config import AppConfig, ExchangeConfig, StackConfig
from components.exchange_scripts import ExchangeInputs, exchange_inputs
from exo_oauth.plan_mocks import standin_id
from exo_oauth.project import load_stack
from tests.stack_factory import REPO

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


def app_output(stack: str, app: AppConfig, *, real_ids: bool = False) -> dict[str, Any]:
    """Return one app's entry of the `apps` output: what the Exchange scripts read, plus the app object id.

    IDs are the offline plan's stand-ins, or with `real_ids` GUIDs such as a deployed stack reports.
    """
    ids = {kind: standin(stack, app.name, kind) for kind in _STANDIN_KINDS}
    return {
        "name": app.name,
        "displayName": app.display_name,
        "flow": app.flow,
        "protocols": list(app.protocols),
        **({kind: deployed(value) for kind, value in ids.items()} if real_ids else ids),
        "mailboxes": [{"address": m.address, "sendAs": m.send_as} for m in app.mailboxes],
    }


def apps_output(stack: str, config: StackConfig, *, real_ids: bool = False) -> dict[str, Any]:
    """Return the `apps` stack output of a stack (stand-in IDs, or deployed-looking ones with `real_ids`)."""
    return {app.name: app_output(stack, app, real_ids=real_ids) for app in config.apps}


def example(name: str, *, real_ids: bool = False) -> tuple[StackConfig, ExchangeInputs]:
    """Return an example stack's config and its renderer inputs (stand-in IDs unless `real_ids`)."""
    config = load_stack(REPO, name).config
    apps = apps_output(name, config, real_ids=real_ids)
    return config, exchange_inputs(name, config.tenant_id, apps, config.exchange)


def inputs_for(apps: dict[str, Any], exchange: ExchangeConfig | None = None, stack: str = "test") -> ExchangeInputs:
    """Return renderer inputs for hand-written `apps` outputs."""
    return exchange_inputs(stack, "11111111-2222-4333-8444-555555555555", apps, exchange or ExchangeConfig())


def app_only(name: str = "scanners", protocols: tuple[str, ...] = ("smtp",), **overrides: Any) -> dict[str, Any]:
    """Return one app-only app's output entry with two mailboxes, the second with sendAs."""
    entry = {
        "name": name,
        "displayName": f"{name} app",
        "flow": "app-only",
        "protocols": list(protocols),
        "clientId": standin("test", name, "clientId"),
        "applicationObjectId": standin("test", name, "applicationObjectId"),
        "servicePrincipalObjectId": standin("test", name, "servicePrincipalObjectId"),
        "mailboxes": [{"address": "box@contoso.com", "sendAs": False},
                      {"address": "sender@contoso.com", "sendAs": True}],
    }
    return entry | overrides


def delegated(name: str = "mail-clients", protocols: tuple[str, ...] = ("imap", "smtp")) -> dict[str, Any]:
    """Return one delegated app's output entry (no mailboxes)."""
    return app_only(name, protocols, flow="delegated", mailboxes=[])
