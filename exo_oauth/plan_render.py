"""Render offline plans as readable text, as markdown for a pull-request comment, or as JSON.

Pure: plain dicts (StackPlan.to_json() plus its policy verdicts) in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .markdown import escape
from .microsoft_ids import API_DISPLAY_NAMES


def md(text: Any) -> str:
    """Escape user-supplied text for markdown (a table cell or a list item): markdown.escape, the one escaper."""
    return escape(text)


def short_type(token: str) -> str:
    """`azuread:index/application:Application` -> `Application`."""
    return token.rsplit(":", 1)[-1]


def _permissions(app: Mapping[str, Any]) -> str:
    by_api: dict[str, list[str]] = {}
    for permission in app["permissions"]:
        by_api.setdefault(API_DISPLAY_NAMES.get(permission["api"], permission["api"]), []).append(permission["name"])
    return "; ".join(f"{api}: {', '.join(names)}" for api, names in by_api.items())


def _consent(app: Mapping[str, Any]) -> str:
    if app["flow"] == "app-only":
        count = len(app["permissions"])
        return f"{count} app role assignment{'s' if count != 1 else ''} (admin consent)"
    return "delegated grant for all users (admin consent)"


def _mailboxes(app: Mapping[str, Any]) -> list[str]:
    return [f"{m['address']} (FullAccess{', SendAs' if m['sendAs'] else ''})" for m in app["mailboxes"]]


def _credential(app: Mapping[str, Any]) -> str:
    credential = app["credential"]
    if credential["type"] == "none":
        return "none (public client)"
    expiry = f"expires {credential['endDate'][:10]}" if credential.get("endDate") else "no expiry"
    return f"{credential['type']}, {expiry}"


def _detail(resource: Mapping[str, Any], names: Mapping[str, str]) -> str:
    inputs = resource["inputs"]
    kind = short_type(resource["type"])
    if kind == "Application":
        return f"{inputs.get('displayName', '')!r}, {inputs.get('signInAudience', '')}"
    if kind == "AppRoleAssignment":
        role = inputs.get("appRoleId", "")
        return f"{names.get(role, 'unknown role')} ({role})"
    if kind == "ServicePrincipalDelegatedPermissionGrant":
        return f"claims {' '.join(inputs.get('claimValues', []))}"
    if kind == "ApplicationPassword":
        return f"expires {str(inputs.get('endDate', ''))[:10]}"
    if kind == "Rotating":
        return f"next secret after {int(inputs.get('rotationDays', 0))} days"
    return ""


_CHILD_ORDER = ("Application", "ServicePrincipal", "AppRoleAssignment", "ServicePrincipalDelegatedPermissionGrant",
                "Rotating", "ApplicationPassword", "ApplicationCertificate", "ApplicationFederatedIdentityCredential")


def _child_rank(resource: Mapping[str, Any]) -> tuple[int, str]:
    kind = short_type(resource["type"])
    return (_CHILD_ORDER.index(kind) if kind in _CHILD_ORDER else len(_CHILD_ORDER), resource["name"])


def render_text(stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the plan as indented text, one block per stack."""
    lines = ["Offline plan: per-tenant IDs are stand-ins (00000000-<kind>-...), first-party IDs are Microsoft's.", ""]
    for plan in stacks:
        apps: Mapping[str, Any] = plan["outputs"].get("apps", {})
        names = {p["id"]: f"{API_DISPLAY_NAMES.get(p['api'], p['api'])} {p['name']}"
                 for app in apps.values() for p in app["permissions"]}
        lines.append(f"Stack {plan['stack']} (tenant {plan['tenantId']}): {len(plan['resources'])} resources to create")
        for component in (r for r in plan["resources"] if r["parent"] is None):
            app = apps[component["name"]]
            lines.append(f"  + {component['name']}: {app['flow']}, {', '.join(app['protocols'])}")
            for child in sorted((r for r in plan["resources"] if r["parent"] == component["urn"]), key=_child_rank):
                detail = _detail(child, names)
                suffix = f"  {detail}" if detail else ""
                lines.append(f"      + {short_type(child['type']):<42} {child['name']}{suffix}")
            lines.append(f"      permissions: {_permissions(app)}")
            lines.append(f"      consent: {_consent(app)}")
            if app["mailboxes"]:
                lines.append(f"      mailboxes: {'; '.join(_mailboxes(app))}")
            lines.append(f"      credential: {_credential(app)}")
            lines.append(f"      token scopes: {' '.join(app['scopes'])}")
        scripts = plan["outputs"].get("exchange") or {}
        if scripts:
            counts = ", ".join(f"{action} {len(text.splitlines())} lines" for action, text in scripts.items())
            lines.append(f"  Exchange Online scripts ({counts}): exo-oauth exchange --stack {plan['stack']}")
        lines.extend(_policy_lines(plan.get("policy", []), indent="  "))
        lines.append("")
    return "\n".join(lines)


def _policy_lines(violations: Sequence[Mapping[str, Any]], indent: str) -> list[str]:
    if not violations:
        return [f"{indent}policy: all rules pass"]
    return [f"{indent}policy {v['level']}: [{v['policy']}] {v['message']}" for v in violations]


def render_markdown(stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the plan as markdown: one table per tenant, for a pull-request comment."""
    lines = ["## exo-oauth plan", ""]
    for plan in stacks:
        lines.append(f"### {md(plan['stack'])} (tenant `{plan['tenantId']}`)")
        lines.append("")
        lines.append("| App | Flow | Protocols | Permissions | Consent | Mailboxes | Credential expiry |")
        lines.append("|---|---|---|---|---|---|---|")
        for app in plan["outputs"].get("apps", {}).values():
            cells = [app["name"], app["flow"], ", ".join(app["protocols"]), _permissions(app), _consent(app),
                     "; ".join(_mailboxes(app)) or "(users' own)", _credential(app)]
            lines.append("| " + " | ".join(md(c) for c in cells) + " |")
        if not plan["outputs"].get("apps"):
            lines.append("| (no apps) | | | | | | |")
        lines.append("")
        lines.extend(md(line) for line in _policy_lines(plan.get("policy", []), indent="Policy: "))
        lines.append("")
    return "\n".join(lines)


def render_json(stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the plan as JSON: {"stacks": [...]}."""
    return json.dumps({"stacks": list(stacks)}, indent=2, sort_keys=False) + "\n"
