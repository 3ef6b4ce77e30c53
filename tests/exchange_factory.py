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


def app_output(stack: str, app: AppConfig) -> dict[str, Any]:
    """Return one app's entry of the `apps` output: what the Exchange scripts read, plus the app object id."""
    return {
        "name": app.name,
        "displayName": app.display_name,
        "flow": app.flow,
        "protocols": list(app.protocols),
        "clientId": standin(stack, app.name, "clientId"),
        "applicationObjectId": standin(stack, app.name, "applicationObjectId"),
        "servicePrincipalObjectId": standin(stack, app.name, "servicePrincipalObjectId"),
        "mailboxes": [{"address": m.address, "sendAs": m.send_as} for m in app.mailboxes],
    }


def apps_output(stack: str, config: StackConfig) -> dict[str, Any]:
    """Return the `apps` stack output of a deployed stack."""
    return {app.name: app_output(stack, app) for app in config.apps}


def example(name: str) -> tuple[StackConfig, ExchangeInputs]:
    """Return an example stack's config and its renderer inputs with stand-in IDs."""
    config = load_stack(REPO, name).config
    return config, exchange_inputs(name, config.tenant_id, apps_output(name, config), config.exchange)


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
