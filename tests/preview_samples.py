"""Steps of `pulumi preview --json` for a stack whose credential rotation is due, and a builder for more."""

from __future__ import annotations

from typing import Any

PREFIX = "urn:pulumi:contoso::exo-oauth::"
APP = "exo-oauth:index:MailOAuthApp"


def step(op: str, type_: str, name: str, **extra: Any) -> dict[str, Any]:
    """Return one step as `pulumi preview --json` prints it (URN with the parent-qualified type)."""
    urn = f"{PREFIX}{APP}${type_}::{name}" if type_ != APP else f"{PREFIX}{APP}::{name}"
    state = {"urn": urn, "type": type_, "custom": type_ != APP}
    return {"op": op, "urn": urn, "provider": "", "oldState": state, "newState": state, **extra}


STACK = step("same", "pulumi:pulumi:Stack", "exo-oauth-contoso")
SAME_APP = step("same", "azuread:index/application:Application", "scanners-app")
ROTATING = "time:index/rotating:Rotating"
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
DUE_STEPS = [STACK, SAME_APP, step("create", ROTATING, "scanners-rotation"),
             step("create-replacement", PASSWORD, "scanners-secret", diffReasons=["endDate", "rotateWhenChanged"],
                  replaceReasons=["endDate", "rotateWhenChanged"]),
             step("replace", PASSWORD, "scanners-secret", diffReasons=["endDate", "rotateWhenChanged"]),
             step("delete-replaced", PASSWORD, "scanners-secret")]
