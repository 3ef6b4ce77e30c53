"""Read `pulumi preview --json` and decide whether the only pending change is credential rotation.

Two shapes of rotation exist (docs/rotation.md):
- A secret lives in one of two slots, `<app>-secret-a` and `<app>-secret-b`, on a fixed schedule
  (docs/decisions/0032). Rotation creates the next period's secret in a slot (a create, or a replacement whose
  only differences are the schedule's `displayName`, `startDate` and `endDate`) and deletes a slot whose secret
  has passed its end date.
  A slot is replaced or deleted as rotation only when its old secret has ended (its `endDate` is at or before now),
  and never both slots at once: a change of `lifetimeDays` or `rotateBeforeDays` replaces both valid secrets, which
  is left to the reviewed deploy.
- A certificate is registered again when its `time:index/rotating:Rotating` clock has run out: a refreshing preview
  shows the clock created anew or replaced, and the certificate replaced or updated because of it.
Any other change (an app, a permission, a mailbox, a credential change that is not the schedule's) needs a person's
review, so the unattended rotation run leaves that stack alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exo_domain.microsoft import TYPE_TOKENS
from exo_domain.rotation import SLOTS

ROTATING = TYPE_TOKENS["rotating"]
PASSWORD = TYPE_TOKENS["password"]
CERTIFICATE = TYPE_TOKENS["certificate"]
SECRET_SLOT = re.compile(rf"(?P<owner>[a-z0-9-]+)-secret-(?:{'|'.join(map(re.escape, SLOTS))})")
"""The two secret slots of an app (components/mail_app.py `_secrets`)."""
OWNER_SUFFIXES = {ROTATING: "-rotation", CERTIFICATE: "-cert"}
"""A certificate app's clock `<app>-rotation` and certificate `<app>-cert` (components/mail_app.py)."""
REPLACING_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})
SLOT_DIFF_KEYS = frozenset({"displayName", "startDate", "endDate"})
"""What the schedule changes when a slot takes the next period's secret: its dated display name, start and end."""
STACK = "pulumi:pulumi:Stack"
URN_PARTS = 4
"""`urn:pulumi:<stack>`, the project, the (parent-qualified) type and the name, separated by `::`."""
NEUTRAL_OPS = frozenset({"same", "read", "refresh"})
ROTATION_DIFF_KEYS = frozenset({"startDate", "endDate", "rotateWhenChanged"})
"""The properties of a certificate that its rotation clock changes: anything else is a change to review."""
DUE, NONE, OTHER, BLOCKED = "due", "none", "other", "blocked"
"""rotation-due's verdicts; `blocked` is `other` with a rotation due among the pending changes."""


@dataclass(frozen=True)
class Step:
    """One step of the preview: its operation, resource type and name."""

    op: str
    type: str
    name: str
    diff_keys: tuple[str, ...]
    old_end: datetime | None = None
    """The old state's `endDate` (outputs, else inputs), when it has a readable one."""

    def describe(self) -> str:
        """Return `name (type op)` for messages."""
        return f"{self.name} ({self.type.rsplit(':', 1)[-1]} {self.op})"


@dataclass(frozen=True)
class Verdict:
    """What the preview shows: `due` (only rotation), `none` (no change) or `other` (a change to review)."""

    status: str
    rotation: tuple[Step, ...]
    other: tuple[Step, ...]


@dataclass(frozen=True)
class Blocked:
    """An app whose rotation is due but waits, because other changes are pending in the same stack."""

    app: str
    ends: datetime | None
    """When the credential devices use now ends (the latest old `endDate` of the app's credentials still valid),
    or None when the preview does not show it."""
    blockers: tuple[Step, ...]
    """The pending changes that are not rotation: the scheduled run leaves the stack to a reviewed deploy."""

    def describe(self, shown: int) -> str:
        """Return `app X: rotation due, blocked ...; ends ...; blocked by ...` naming at most `shown` blockers."""
        ends = (f"the credential devices use now ends {self.ends:%Y-%m-%d}" if self.ends
                else "the preview does not show when the credential devices use now ends")
        more = f" and {len(self.blockers) - shown} more" if len(self.blockers) > shown else ""
        return (f"app {self.app}: rotation due but blocked, and {ends}; blocked by "
                f"{', '.join(s.describe() for s in self.blockers[:shown])}{more}")


def blocked(steps: Sequence[Step], verdict: Verdict, now: datetime) -> tuple[Blocked, ...]:
    """Return, per app with a due rotation, what blocks it: empty unless the verdict is `other` with rotation in it."""
    if verdict.status != OTHER or not verdict.rotation:
        return ()
    apps = dict.fromkeys(_owner(s) for s in verdict.rotation)
    return tuple(
        Blocked(app, max((s.old_end for s in steps if s.type in (PASSWORD, CERTIFICATE) and _owner(s) == app
                          and s.old_end is not None and s.old_end > now), default=None), verdict.other)
        for app in apps)


def _step(raw: Mapping[str, Any], where: str) -> Step:
    urn, op = raw.get("urn"), raw.get("op")
    if not isinstance(urn, str) or not isinstance(op, str) or len(urn.split("::", URN_PARTS - 1)) < URN_PARTS:
        raise ValueError(f"{where}: a step without `op` and a resource `urn`")
    qualified_type, name = urn.split("::")[2], urn.split("::", 3)[3]
    diff = raw.get("diffReasons") or []
    return Step(op, qualified_type.rsplit("$", 1)[-1], name, tuple(str(k) for k in diff), _old_end(raw))


def _old_end(raw: Mapping[str, Any]) -> datetime | None:
    """Return the `endDate` of the step's old state (its outputs, else its inputs), or None when it has none."""
    old = raw.get("oldState")
    if not isinstance(old, Mapping):
        return None
    for part in ("outputs", "inputs"):
        values = old.get(part)
        value = values.get("endDate") if isinstance(values, Mapping) else None
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _owner(step: Step) -> str:
    """Return the app's name: `<app>-rotation`, `<app>-cert` and `<app>-secret-a` all belong to `<app>`."""
    slot = SECRET_SLOT.fullmatch(step.name)
    if slot is not None:
        return slot["owner"]
    return step.name.removesuffix(OWNER_SUFFIXES.get(step.type, ""))


def read_preview(document: Any) -> list[Step]:
    """Return the steps of `pulumi preview --json` output; raise ValueError when it is not that shape or failed."""
    if not isinstance(document, Mapping) or not isinstance(document.get("steps", []), Sequence):
        raise ValueError("not the output of `pulumi preview --json` (a mapping with `steps`)")
    errors = [d for d in document.get("diagnostics") or [] if isinstance(d, Mapping) and d.get("severity") == "error"]
    if errors:
        message = str(errors[0].get("message", "")).strip().splitlines() or ["no message"]
        raise ValueError(f"the preview failed: {message[-1]}")
    return [_step(s, f"steps[{i}]") if isinstance(s, Mapping) else _step({}, f"steps[{i}]")
            for i, s in enumerate(document.get("steps") or [])]


def judge(steps: Sequence[Step], now: datetime) -> Verdict:
    """Sort the changing steps into rotation and other changes, as of `now` (the secrets' end dates count)."""
    changing = [s for s in steps if s.op not in NEUTRAL_OPS and not (s.type == STACK and s.op == "update")]
    clocks = {_owner(s) for s in changing if s.type == ROTATING and s.op != "delete"}
    replaced: dict[str, set[str]] = {}
    for s in changing:
        if s.type == PASSWORD and s.op in REPLACING_OPS and SECRET_SLOT.fullmatch(s.name):
            replaced.setdefault(_owner(s), set()).add(s.name)

    def is_rotation(step: Step) -> bool:
        if step.type == ROTATING:
            return step.op != "delete"
        if step.type == PASSWORD:
            return _is_slot_rotation(step, now) and len(replaced.get(_owner(step), ())) < len(SLOTS)
        return (step.type == CERTIFICATE and _owner(step) in clocks and step.op != "delete"
                and set(step.diff_keys) <= ROTATION_DIFF_KEYS)

    rotation = tuple(s for s in changing if is_rotation(s))
    other = tuple(s for s in changing if not is_rotation(s))
    status = OTHER if other else DUE if rotation else NONE
    return Verdict(status, rotation, other)


def _is_slot_rotation(step: Step, now: datetime) -> bool:
    """Return whether the step is a slot's next secret (a create), or a slot replaced or dropped after its end."""
    if SECRET_SLOT.fullmatch(step.name) is None or not set(step.diff_keys) <= SLOT_DIFF_KEYS:
        return False
    if step.op == "create":
        return True
    return step.old_end is not None and step.old_end <= now
