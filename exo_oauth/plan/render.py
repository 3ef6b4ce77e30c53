"""Render offline plans as readable text, as markdown for a pull-request comment, or as JSON.

Pure: plain dicts (StackPlan.to_json() plus its policy verdicts) and the time to count days from in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from exo_domain.exchange_actions import mailbox_rights

from ..review import mermaid
from ..review.markdown import escape
from ..util.days import day_count, days_until, parse_time
from ..util.microsoft_ids import API_DISPLAY_NAMES
from .import_file import shown_import_path

MAX_GRAPHS = 20
"""The markdown draws an access graph for each stack only when it plans at most this many: a pull-request comment
holds 65,536 characters, and `exo-oauth diff` draws the tenants that change."""


def short_type(token: str) -> str:
    """`azuread:index/application:Application` -> `Application`."""
    return token.rsplit(":", 1)[-1]


def _by_api(app: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    by_api: dict[str, list[Mapping[str, Any]]] = {}
    for permission in app["permissions"]:
        by_api.setdefault(API_DISPLAY_NAMES.get(permission["api"], permission["api"]), []).append(permission)
    return by_api


def _permissions(app: Mapping[str, Any]) -> str:
    """Each API's permissions by name and by the ID looked up in the tenant."""
    return "; ".join(f"{api}: " + ", ".join(f"{p['name']} ({p['id']})" for p in group)
                     for api, group in _by_api(app).items())


def _consent(app: Mapping[str, Any]) -> str:
    if app["flow"] == "app-only":
        count = len(app["permissions"])
        return f"{count} app role assignment{'s' if count != 1 else ''} (admin consent)"
    apis = list(_by_api(app))
    return f"delegated grant{'s' if len(apis) != 1 else ''} for all users on {' and '.join(apis)} (admin consent)"


def _mailboxes(app: Mapping[str, Any]) -> list[str]:
    return [f"{m['address']} ({', '.join(mailbox_rights(app.get('exchangeAccess'), m['sendAs']))})"
            for m in app["mailboxes"]]


def _expiry(end_date: Any, now: datetime) -> str:
    """`expires 2027-05-27 (in 180 days)`, or `no expiry`."""
    if not end_date:
        return "no expiry"
    end = parse_time(str(end_date))
    return f"expires {end:%Y-%m-%d} (in {day_count(days_until(end, now))})"


def _credential(app: Mapping[str, Any], now: datetime) -> str:
    credential = app["credential"]
    if credential["type"] == "none":
        return "none (public client)"
    previous = [f"; previous secret still valid until {s['endDate'][:10]}" for s in credential.get("secrets", [])[1:]]
    return f"{credential['type']}, {_expiry(credential.get('endDate'), now)}{''.join(previous)}"


def _rotation(days: int, credential: Mapping[str, Any], now: datetime) -> str:
    """Say what the rotation clock renews, and warn when the credential ends before it does."""
    kind = credential.get("type")
    text = f"next secret after {days} days" if kind == "secret" else f"registers the {kind} again after {days} days"
    end = credential.get("endDate")
    if end and days_until(parse_time(str(end)), now) < days:
        ends = parse_time(str(end))
        text += (f", but the {kind} ends first: {ends:%Y-%m-%d} (in {day_count(days_until(ends, now))})"
                 + ("; put a renewed certificate in the stack file before then" if kind == "certificate" else ""))
    return text


def _clock(kind: str, inputs: Mapping[str, Any], app: Mapping[str, Any], now: datetime) -> str:
    """Say what a certificate's rotation clock renews, or from when a secret schedule counts."""
    if kind == "Static":
        first_day = str(inputs.get("rfc3339", ""))[:10]
        return f"secret schedule from {first_day} (the first deploy's day, kept in state)"
    return _rotation(int(inputs.get("rotationDays", 0)), app.get("credential", {}), now)


def _detail(resource: Mapping[str, Any], names: Mapping[str, str], app: Mapping[str, Any], now: datetime) -> str:
    inputs = resource["inputs"]
    kind = short_type(resource["type"])
    if kind == "Application":
        return f"{inputs.get('displayName', '')!r}, {inputs.get('signInAudience', '')}"
    if kind == "AppRoleAssignment":
        role = inputs.get("appRoleId", "")
        return f"{names.get(role, 'unknown role')} ({role})"
    if kind == "ServicePrincipalDelegatedPermissionGrant":
        api = names.get(inputs.get("resourceServicePrincipalObjectId", ""), "an unknown API")
        return f"claims {' '.join(inputs.get('claimValues', []))} on {api}"
    if kind in ("ApplicationPassword", "ApplicationCertificate"):
        return _expiry(inputs.get("endDate"), now)
    if kind in ("Rotating", "Static"):
        return _clock(kind, inputs, app, now)
    return ""


_CHILD_ORDER = ("Application", "ServicePrincipal", "AppRoleAssignment", "ServicePrincipalDelegatedPermissionGrant",
                "Rotating", "Static", "ApplicationPassword", "ApplicationCertificate",
                "ApplicationFederatedIdentityCredential")


def _child_rank(resource: Mapping[str, Any]) -> tuple[int, str]:
    kind = short_type(resource["type"])
    return (_CHILD_ORDER.index(kind) if kind in _CHILD_ORDER else len(_CHILD_ORDER), resource["name"])


def render_text(stacks: Sequence[Mapping[str, Any]], now: datetime | None = None) -> str:
    """Return the plan as indented text, one block per stack; day counts run from `now` (default: the clock)."""
    now = now or datetime.now(UTC)
    lines = ["Offline plan: per-tenant IDs are stand-ins (00000000-<kind>-...), first-party IDs are Microsoft's.", ""]
    for plan in stacks:
        apps: Mapping[str, Any] = plan["outputs"].get("apps", {})
        names = {p["id"]: f"{API_DISPLAY_NAMES.get(p['api'], p['api'])} {p['name']}"
                 for app in apps.values() for p in app["permissions"]}
        # First-party service principals by object id, as the tenant look-ups answered, to name a grant's API.
        names |= {i["result"]["objectId"]: i["result"]["displayName"]
                  for i in plan.get("invokes", []) if "objectId" in i["result"]}
        imported = sum("import" in r for r in plan["resources"])
        deletes = plan.get("deletes", [])
        counts = f"{len(plan['resources']) - imported} resources to create" + (
            f", {imported + len(deletes)} to import ({shown_import_path(plan['stack'])})" if imported or deletes
            else "") + (f", {len(deletes)} of them deleted after" if deletes else "")
        lines.append(f"Stack {plan['stack']} (tenant {plan['tenantId']}): {counts}")
        for component in (r for r in plan["resources"] if r["parent"] is None):
            app = apps[component["name"]]
            lines.append(f"  + {component['name']}: {app['flow']}, {', '.join(app['protocols'])}")
            for child in sorted((r for r in plan["resources"] if r["parent"] == component["urn"]), key=_child_rank):
                detail = _detail(child, names, app, now)
                replaced = child.get("replaceAfterImport", False)
                suffix = (f"  {detail}" if detail else "") + (
                    f"  (import {child['import']}{', then replaced' if replaced else ''})" if "import" in child else "")
                mark = "+-" if replaced else "=" if "import" in child else "+"
                lines.append(f"      {mark} {short_type(child['type']):<{43 - len(mark)}} {child['name']}{suffix}")
            lines.extend(f"      - {short_type(gone['type']):<42} {gone['name']}  (import {gone['import']}, then "
                         "deleted: the stack does not declare it)" for gone in deletes
                         if gone["parent"] == component["urn"])
            lines.append(f"      permissions: {_permissions(app)}")
            lines.append(f"      consent: {_consent(app)}")
            if app["mailboxes"]:
                lines.append(f"      mailboxes: {'; '.join(_mailboxes(app))}")
            lines.append(f"      credential: {_credential(app, now)}")
            lines.append(f"      token scopes: {' '.join(app['scopes'])}")
        scripts = plan["outputs"].get("exchange") or {}
        if scripts:
            counts = ", ".join(f"{action} {len(text.splitlines())} lines" for action, text in scripts.items())
            lines.append(f"  Exchange Online scripts ({counts}): exo-oauth exchange --stack {plan['stack']}")
        lines.extend(f"  {line}" for line in _policy_lines(plan.get("policy", []), "policy"))
        lines.append("")
    return "\n".join(lines)


def _policy_lines(violations: Sequence[Mapping[str, Any]], word: str) -> list[str]:
    if not violations:
        return [f"{word}: all rules pass"]
    return [f"{word} {v['level']}: [{v['policy']}] {_where(v)}: {v['message']}" for v in violations]


def _where(violation: Mapping[str, Any]) -> str:
    """`app scanners, scanners-secret-b (stacks/Pulumi.x.yaml: exo-oauth:apps[0].credential)`, as far as known."""
    resource = violation.get("resource") or str(violation.get("urn", "")).rsplit("::", 1)[-1]
    named = f"app {violation['app']}, {resource}" if violation.get("app") else resource
    return f"{named} ({violation['key']})" if violation.get("key") else named


HEADING = "####"
"""Stack headings in the markdown: it is embedded under the review comment's `##` and `###` headings, so it brings
no heading of its own above this level."""


def render_markdown(stacks: Sequence[Mapping[str, Any]], now: datetime | None = None) -> str:
    """Return the plan as markdown for a pull-request comment: per tenant a table, an access graph, the policy."""
    now = now or datetime.now(UTC)
    lines = ["**exo-oauth plan**", ""]
    for plan in stacks:
        lines.append(f"{HEADING} {escape(plan['stack'])} (tenant `{plan['tenantId']}`)")
        lines.append("")
        lines.append("| App | Flow | Protocols | Permissions | Consent | Mailboxes | Credential expiry |")
        lines.append("|---|---|---|---|---|---|---|")
        for app in plan["outputs"].get("apps", {}).values():
            cells = [app["name"], app["flow"], ", ".join(app["protocols"]), _permissions(app), _consent(app),
                     "; ".join(_mailboxes(app)) or "(users' own)", _credential(app, now)]
            lines.append("| " + " | ".join(escape(c) for c in cells) + " |")
        if not plan["outputs"].get("apps"):
            lines.append("| (no apps) | | | | | | |")
        lines.append("")
        if plan["outputs"].get("apps") and len(stacks) <= MAX_GRAPHS:
            lines += [*mermaid.markdown_block(mermaid.access_graph(None, plan["outputs"]["apps"])), ""]
        lines.extend(escape(line) for line in _policy_lines(plan.get("policy", []), "Policy"))
        lines.append("")
    if len(stacks) > MAX_GRAPHS:
        lines.append(f"_No access graphs: {len(stacks)} stacks are more than {MAX_GRAPHS}; `exo-oauth diff` draws "
                     "the tenants that change._")
    return "\n".join(lines)


def render_json(stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the plan as JSON: {"stacks": [...]}."""
    return json.dumps({"stacks": list(stacks)}, indent=2, sort_keys=False) + "\n"
