"""Build in-memory stacks for tests: a valid app per flow, overridable key by key."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

from exo_domain.config import parse_stack_config
from exo_oauth.fleet.project import LoadedStack

TENANT = "11111111-2222-4333-8444-555555555555"
OWNER = "99999999-8888-4777-8666-555555555555"
REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "tests" / "fixtures" / "project"
"""The tests' own project: the repository's program with fixture stacks contoso and fabrikam, never stacks/."""


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


def project(tmp_path: Path, **stacks: dict[str, Any]) -> Path:
    """Return a copy of this project whose stacks/ holds exactly the given stack configs."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "stacks").mkdir()
    for name, raw in stacks.items():
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": raw}), encoding="utf-8")
    return tmp_path


def project_with(folder: Path, old: str, new: str) -> Path:
    """Write a project into `folder` whose only stack is the fixture contoso with `old` replaced by `new`."""
    (folder / "stacks").mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text("name: exo-oauth\nruntime: python\n", encoding="utf-8")
    text = (PROJECT / "stacks" / "Pulumi.contoso.yaml").read_text(encoding="utf-8")
    assert old in text, old
    (folder / "stacks" / "Pulumi.contoso.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return folder


EXCHANGE_SIGN_IN = ("organization: contoso.onmicrosoft.com",
                    "organization: contoso.onmicrosoft.com\n    appId: 11111111-2222-4333-8444-555555555555\n"
                    "    certificateThumbprint: 0123456789ABCDEF0123456789ABCDEF01234567")
"""The (old, new) of `project_with` that gives contoso certificate app-only sign-in to Exchange Online."""
SCANNERS_SECRET = "        type: secret\n        lifetimeDays: 180"
"""The example contoso's scanners credential, for `project_with` to replace."""


def federated_credential(issuer: str, subject: str) -> str:
    """Return a stack file's credential lines (at the scanners app's indentation) for a federated credential."""
    return f"        type: federated\n        issuer: {issuer}\n        subject: {subject}"
