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
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
DUE_STEPS = [STACK, SAME_APP, step("create", PASSWORD, "scanners-secret-b")]
"""A secret's next period has begun: its free slot takes the new secret (docs/decisions/0032)."""
SLOT_REUSED = [step("create-replacement", PASSWORD, "scanners-secret-a", diffReasons=["displayName", "endDate"],
                    replaceReasons=["displayName", "endDate"]),
               step("replace", PASSWORD, "scanners-secret-a", diffReasons=["displayName", "endDate"]),
               step("delete-replaced", PASSWORD, "scanners-secret-a")]
"""No `pulumi up` ran since the slot's old secret expired: the slot is replaced with the new period's secret."""
EXPIRED_DROPPED = [step("delete", PASSWORD, "scanners-secret-a")]
"""The overlap is over: the older secret has passed its end date and leaves the program."""
CERTIFICATE_DUE = [step("create", ROTATING, "frontdesk-rotation"),
                   step("update", CERTIFICATE, "frontdesk-cert", diffReasons=["endDate"])]
"""A certificate's rotation clock ran out: the same certificate is registered again with a new end date."""
