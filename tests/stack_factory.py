"""Build in-memory stacks for tests: a valid app per flow, overridable key by key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from components.config import parse_stack_config
from exo_oauth.project import LoadedStack

TENANT = "11111111-2222-4333-8444-555555555555"
OWNER = "99999999-8888-4777-8666-555555555555"
REPO = Path(__file__).resolve().parent.parent


def app(flow: str = "app-only", protocols: Any = ("imap", "pop", "smtp"), **overrides: Any) -> dict[str, Any]:
    """Return one valid app entry as it would appear in a stack file."""
    entry: dict[str, Any] = {
        "name": f"{flow}-app",
        "displayName": f"Test {flow} app",
        "flow": flow,
        "protocols": protocols if isinstance(protocols, str) else list(protocols),
        "owners": [OWNER],
    }
    if flow == "app-only":
        entry["mailboxes"] = ["box@contoso.com", {"address": "sender@contoso.com", "sendAs": True}]
    entry.update(overrides)
    if "displayName" not in overrides and "name" in overrides:
        # Display names must be unique in a stack, as names are.
        entry["displayName"] = f"Test {flow} app {entry['name']}"
    return entry


def raw_config(*apps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Return a stack file's `config:` mapping with the given apps."""
    return {"azuread:tenantId": TENANT, "exo-oauth:apps": [copy.deepcopy(a) for a in apps], **extra}


def loaded(raw: dict[str, Any], name: str = "test") -> LoadedStack:
    """Return a validated stack as if read from stacks/Pulumi.<name>.yaml."""
    source = f"stacks/Pulumi.{name}.yaml"
    return LoadedStack(name, REPO / source, raw, parse_stack_config(raw, source))
