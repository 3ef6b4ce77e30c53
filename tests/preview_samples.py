"""Steps of `pulumi preview --json` for a stack whose credential rotation is due, and a builder for more."""

from __future__ import annotations

from typing import Any

PREFIX = "urn:pulumi:contoso::exo-oauth::"
APP = "exo-oauth:index:MailOAuthApp"


ENDED = "2024-03-01T00:00:00Z"
"""An old secret's end date in the past: its slot may be replaced or dropped by the schedule."""
VALID = "2099-03-01T00:00:00Z"
"""An old secret's end date in the future: replacing or dropping it would cut a valid secret."""


def step(op: str, type_: str, name: str, end_date: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return one step as `pulumi preview --json` prints it (URN with the parent-qualified type).

    `end_date` is the old state's `endDate` output (and input), as a deployed ApplicationPassword has.
    """
    urn = f"{PREFIX}{APP}${type_}::{name}" if type_ != APP else f"{PREFIX}{APP}::{name}"
    state: dict[str, Any] = {"urn": urn, "type": type_, "custom": type_ != APP}
    old = state | ({"inputs": {"endDate": end_date}, "outputs": {"endDate": end_date}} if end_date else {})
    return {"op": op, "urn": urn, "provider": "", "oldState": old, "newState": state, **extra}


STACK = step("same", "pulumi:pulumi:Stack", "exo-oauth-contoso")
SAME_APP = step("same", "azuread:index/application:Application", "scanners-app")
ROTATING = "time:index/rotating:Rotating"
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
DUE_STEPS = [STACK, SAME_APP, step("same", PASSWORD, "scanners-secret-a", VALID),
             step("create", PASSWORD, "scanners-secret-b")]
"""A secret's next period has begun: its free slot takes the new secret (docs/decisions/0032); devices use the
other slot's secret, valid until VALID."""


def slot_replaced(name: str, end_date: str) -> list[dict[str, Any]]:
    """Return the three steps of a secret slot replaced by the next period's secret; the old one ends `end_date`."""
    keys = ["displayName", "endDate"]
    return [step("create-replacement", PASSWORD, name, end_date, diffReasons=keys, replaceReasons=keys),
            step("replace", PASSWORD, name, end_date, diffReasons=keys),
            step("delete-replaced", PASSWORD, name, end_date)]


SLOT_REUSED = slot_replaced("scanners-secret-a", ENDED)
"""No `pulumi up` ran since the slot's old secret expired: the slot is replaced with the new period's secret."""
EXPIRED_DROPPED = [step("delete", PASSWORD, "scanners-secret-a", ENDED)]
"""The overlap is over: the older secret has passed its end date and leaves the program."""
CERTIFICATE_DUE = [step("create", ROTATING, "frontdesk-rotation"),
                   step("update", CERTIFICATE, "frontdesk-cert", diffReasons=["endDate"])]
"""A certificate's rotation clock ran out: the same certificate is registered again with a new end date."""
