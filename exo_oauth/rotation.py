"""Read `pulumi preview --json` and decide whether the only pending change is credential rotation.

Two shapes of rotation exist (docs/rotation.md):
- A secret lives in one of two slots, `<app>-secret-a` and `<app>-secret-b`, on a fixed schedule
  (docs/decisions/0032). Rotation creates the next period's secret in a slot (a create, or a replacement whose only
  differences are the schedule's `displayName` and `endDate`) and deletes a slot whose secret has passed its end date.
- A certificate is registered again when its `time:index/rotating:Rotating` clock has run out: a refreshing preview
  shows the clock created anew or replaced, and the certificate replaced or updated because of it.
Any other change (an app, a permission, a mailbox, a credential change that is not the schedule's) needs a person's
review, so the unattended rotation run leaves that stack alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ROTATING = "time:index/rotating:Rotating"
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
SECRET_SLOT = re.compile(r"[a-z0-9-]+-secret-[ab]")
"""The two secret slots of an app (components/mail_app.py `_secrets`)."""
SLOT_DIFF_KEYS = frozenset({"displayName", "endDate"})
"""What the schedule changes when a slot takes the next period's secret: its dated display name and its end date."""
STACK = "pulumi:pulumi:Stack"
URN_PARTS = 4
"""`urn:pulumi:<stack>`, the project, the (parent-qualified) type and the name, separated by `::`."""
NEUTRAL_OPS = frozenset({"same", "read", "refresh"})
ROTATION_DIFF_KEYS = frozenset({"endDate", "rotateWhenChanged"})
"""The properties of a certificate that its rotation clock changes: anything else is a change to review."""
DUE, NONE, OTHER = "due", "none", "other"


@dataclass(frozen=True)
class Step:
    """One step of the preview: its operation, resource type and name."""

    op: str
    type: str
    name: str
    diff_keys: tuple[str, ...]

    def describe(self) -> str:
        """Return `name (type op)` for messages."""
        return f"{self.name} ({self.type.rsplit(':', 1)[-1]} {self.op})"


@dataclass(frozen=True)
class Verdict:
    """What the preview shows: `due` (only rotation), `none` (no change) or `other` (a change to review)."""

    status: str
    rotation: tuple[Step, ...]
    other: tuple[Step, ...]


def _step(raw: Mapping[str, Any], where: str) -> Step:
    urn, op = raw.get("urn"), raw.get("op")
    if not isinstance(urn, str) or not isinstance(op, str) or len(urn.split("::", URN_PARTS - 1)) < URN_PARTS:
        raise ValueError(f"{where}: a step without `op` and a resource `urn`")
    qualified_type, name = urn.split("::")[2], urn.split("::", 3)[3]
    diff = raw.get("diffReasons") or []
    return Step(op, qualified_type.rsplit("$", 1)[-1], name, tuple(str(k) for k in diff))


def _owner(step: Step) -> str:
    """Return the component's name: `<app>-rotation` and `<app>-cert` both belong to `<app>`."""
    return step.name.rsplit("-", 1)[0]


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


def judge(steps: Sequence[Step]) -> Verdict:
    """Sort the changing steps into rotation and other changes."""
    changing = [s for s in steps if s.op not in NEUTRAL_OPS and not (s.type == STACK and s.op == "update")]
    clocks = {_owner(s) for s in changing if s.type == ROTATING and s.op != "delete"}

    def is_rotation(step: Step) -> bool:
        if step.type == ROTATING:
            return step.op != "delete"
        if step.type == PASSWORD:
            # Any operation of the schedule: a new period's secret, or dropping one whose end date has passed.
            return SECRET_SLOT.fullmatch(step.name) is not None and set(step.diff_keys) <= SLOT_DIFF_KEYS
        return (step.type == CERTIFICATE and _owner(step) in clocks and step.op != "delete"
                and set(step.diff_keys) <= ROTATION_DIFF_KEYS)

    rotation = tuple(s for s in changing if is_rotation(s))
    other = tuple(s for s in changing if not is_rotation(s))
    status = OTHER if other else DUE if rotation else NONE
    return Verdict(status, rotation, other)
