"""Who gains or loses access: compare two plans of a tenant by effective access, not by resource.

Pure: the `apps` stack outputs of the base and of the head (plain dicts) in, a list of changes out, then rendered
as markdown or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from exo_domain.exchange_actions import mailbox_rights

from ..plan.render import HEADING
from ..util.microsoft_ids import API_DISPLAY_NAMES
from . import mermaid
from .markdown import code, escape

Apps = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Change:
    """One change in effective access."""

    kind: str
    """app-added, app-removed, app-renamed, permission-added, permission-removed, mailbox-access-added,
    mailbox-access-removed, credential-changed, secret-replaced or exchange-revoked (what the deploy's Exchange
    apply takes back)."""
    app: str
    """The app's name (the new name for a rename)."""
    detail: str
    """What changed, in words, e.g. `Office 365 Exchange Online SMTP.SendAsApp` or `new@contoso.com: FullAccess`."""


def _access(app: Mapping[str, Any]) -> set[str]:
    return {f"{mailbox['address']}: {right}" for mailbox in app["mailboxes"]
            for right in mailbox_rights(app.get("exchangeAccess"), mailbox["sendAs"])}


def _permissions(app: Mapping[str, Any]) -> set[str]:
    """Each permission named with its API: the same scope name on Microsoft Graph and on Exchange Online differs."""
    return {f"{API_DISPLAY_NAMES.get(p['api'], p['api'])} {p['name']}" for p in app["permissions"]}


def _credential(app: Mapping[str, Any]) -> str:
    credential = app["credential"]
    expiry = f", expires {credential['endDate'][:10]}" if credential.get("endDate") else ""
    return f"{credential['type']}{expiry}"


SCHEDULE_KEYS = ("lifetimeDays", "rotateBeforeDays")
"""The credential keys that set a secret's schedule: changing one replaces the secret devices use now."""


def _secret_replaced(name: str, old: Mapping[str, Any], new: Mapping[str, Any],
                     renamed_from: str | None = None) -> str | None:
    """Say why deploying app `name` as `new` replaces the secret `old` gives devices now, or None when it does not.

    A rename makes a new app; a new credential type, `lifetimeDays` or `rotateBeforeDays` moves the schedule, so the
    next `pulumi up` replaces the live secret (docs/rotation.md). Outputs planned by code older than the schedule keys
    lack them: then a different end date of the newest secret is the sign.
    """
    before, after = old["credential"], new["credential"]
    if before["type"] != "secret":
        return None
    why: str | None
    if renamed_from is not None:
        why = f"the app is renamed from {renamed_from}"
    elif after["type"] != "secret":
        why = f"the credential type changes from secret to {after['type']}"
    elif all(key in before for key in SCHEDULE_KEYS):
        why = ", ".join(f"{key} {before[key]} -> {after.get(key)}" for key in SCHEDULE_KEYS
                        if before[key] != after.get(key)) or None
    else:
        why = "the secret's schedule changes" if before.get("endDate") != after.get("endDate") else None
    if why is None:
        return None
    return (f"this deploy replaces the secret devices use now ({why}): they stop signing in until they get the "
            f"new clientSecrets.{name}")


def _same_access(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a["flow"], _permissions(a), _access(a)) == (b["flow"], _permissions(b), _access(b))


def _describe(app: Mapping[str, Any]) -> str:
    parts = [f"{app['flow']}: {', '.join(sorted(_permissions(app)))}"]
    if app["mailboxes"]:
        parts.append("; ".join(sorted(_access(app))))
    return " — ".join(parts)


def diff_apps(base: Apps, head: Apps) -> list[Change]:
    """Return the access changes from `base` to `head`, apps in name order."""
    changes: list[Change] = []
    added = sorted(set(head) - set(base))
    removed = sorted(set(base) - set(head))
    for new_name in list(added):
        old_name = next((r for r in removed if _same_access(base[r], head[new_name])), None)
        if old_name is not None:
            changes.append(Change("app-renamed", new_name, f"{old_name} -> {new_name}: same access, but a new app "
                                  "registration and client id; clients need the new id and credential"))
            replaced = _secret_replaced(new_name, base[old_name], head[new_name], renamed_from=old_name)
            changes += [Change("secret-replaced", new_name, replaced)] if replaced else []
            added.remove(new_name)
            removed.remove(old_name)
    changes += [Change("app-added", name, _describe(head[name])) for name in added]
    changes += [Change("app-removed", name, _describe(base[name])) for name in removed]
    for name in sorted(set(base) & set(head)):
        old, new = base[name], head[name]
        changes += [Change("permission-added", name, p) for p in sorted(_permissions(new) - _permissions(old))]
        changes += [Change("permission-removed", name, p) for p in sorted(_permissions(old) - _permissions(new))]
        changes += [Change("mailbox-access-added", name, r) for r in sorted(_access(new) - _access(old))]
        changes += [Change("mailbox-access-removed", name, r) for r in sorted(_access(old) - _access(new))]
        if _credential(old) != _credential(new):
            changes.append(Change("credential-changed", name, f"{_credential(old)} -> {_credential(new)}"))
        replaced = _secret_replaced(name, old, new)
        changes += [Change("secret-replaced", name, replaced)] if replaced else []
    return changes + exchange_revocations(base, head)


def exchange_revocations(base: Apps, head: Apps) -> list[Change]:
    """Return what the deploy's Exchange apply script revokes (`exo-oauth exchange --previous`), one per step.

    Both sides are plans, whose stand-in IDs depend only on the stack and app names, so an app that stays keeps
    its IDs and one whose flow changes is seen as gone, as the renderer sees a deployed one.
    """
    from exo_domain.exchange_scripts import revocations  # noqa: PLC0415 - loads the config parser

    found = revocations(_exchange_apps(base), _exchange_apps(head))
    return [Change("exchange-revoked", r.app.name, f"the deploy revokes {r.describe()}") for r in found]


def _exchange_apps(apps: Apps) -> list[Any]:
    from exo_domain.config import Mailbox  # noqa: PLC0415
    from exo_domain.exchange_scripts import ExchangeApp  # noqa: PLC0415
    from exo_domain.schema import EXCHANGE_ACCESS  # noqa: PLC0415

    # Only names, flow, IDs and mailboxes decide a revocation; a base planned by an older version may lack the rest.
    return [ExchangeApp(name, name, app["flow"], (), app.get("clientId", ""), app.get("servicePrincipalObjectId", ""),
                        tuple(Mailbox(m["address"], m["sendAs"]) for m in app["mailboxes"]),
                        app.get("exchangeAccess") or EXCHANGE_ACCESS[0])
            for name, app in apps.items()]


_SYMBOL = {
    "app-added": "➕ app added",
    "app-removed": "➖ app removed",
    "app-renamed": "✏️ app renamed",
    "permission-added": "➕ permission",
    "permission-removed": "➖ permission",
    "mailbox-access-added": "➕ mailbox access",
    "mailbox-access-removed": "➖ mailbox access",
    "credential-changed": "🔑 credential",
    "secret-replaced": "⚠️ live secret replaced",
    "exchange-revoked": "🚫 Exchange revokes",
}
REPLACED_LINE = f"- {_SYMBOL['secret-replaced']} "
"""How a `secret-replaced` change starts in the markdown: the review comment counts these lines."""


def render_markdown(base_ref: str, stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the diff as markdown for a pull-request comment."""
    lines = [f"**exo-oauth access diff against {escape(base_ref)}**", ""]
    if not stacks:
        lines.append("No stack file or program code changed, so no access changes.")
    for stack in stacks:
        lines.append(f"{HEADING} {escape(stack['stack'])} ({stack['status']})")
        lines.append("")
        lines += [f"- {_SYMBOL[c['kind']]} {code(c['app'])}: {escape(c['detail'])}" for c in stack["changes"]]
        if not stack["changes"]:
            lines.append("- no change in effective access")
        elif stack.get("graph"):
            lines += ["", *mermaid.fenced(stack["graph"], legend=True)]
        lines.append("")
    return "\n".join(lines)


def render_text(base_ref: str, stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the diff as plain text, one line per change."""
    lines = [f"access diff against {base_ref}"]
    for stack in stacks:
        lines.append(f"{stack['stack']} ({stack['status']})")
        lines += [f"  {c['kind']:<24} {c['app']}: {c['detail']}" for c in stack["changes"]] or ["  no change"]
    return "\n".join(lines) + "\n"


def render_json(base_ref: str, stacks: Sequence[Mapping[str, Any]]) -> str:
    """Return the diff as JSON: {"base", "stacks": [{"stack", "status", "changes": [{"kind", "app", "detail"}]}]}."""
    return json.dumps({"base": base_ref, "stacks": list(stacks)}, indent=2) + "\n"


def stack_entry(name: str, base: Apps | None, head: Apps | None) -> dict[str, Any]:
    """Return one stack's diff: status added, removed, changed or unchanged, and its changes.

    When something changed, `graph` holds the Mermaid source of the tenant's access, added and removed edges marked.
    """
    status = "added" if base is None else "removed" if head is None else "changed"
    changes = [asdict(c) for c in diff_apps(base or {}, head or {})]
    if status == "changed" and not changes:
        status = "unchanged"
    entry = {"stack": name, "status": status, "changes": changes}
    return {**entry, "graph": mermaid.render(mermaid.access_graph(base or {}, head))} if changes else entry
