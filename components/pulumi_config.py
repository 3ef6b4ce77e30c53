"""Read this project's stack config from the Pulumi runtime and validate it."""

from __future__ import annotations

import os

import pulumi

from . import pulumi_sdk
from .config import (
    ARM_ENVIRONMENT,
    AZUREAD_ENVIRONMENT,
    AZUREAD_METADATA_HOST,
    PROJECT,
    STACKS_DIR,
    StackConfig,
    mistyped,
    parse_stack_config,
)
from .errors import ConfigError


def read_stack_config() -> StackConfig:
    """Return the current stack's validated config; on bad config, stop the run with one line and no traceback."""
    # A mistyped key (`azuread:tenantID`) goes along too, so the check names it rather than a missing key.
    raw = {k: pulumi.runtime.get_config(k) for k in pulumi_sdk.config_keys()
           if k.startswith(f"{PROJECT}:") or mistyped(k)}
    raw["azuread:tenantId"] = pulumi.runtime.get_config("azuread:tenantId")
    for key in (AZUREAD_ENVIRONMENT, AZUREAD_METADATA_HOST):
        raw[key] = pulumi.runtime.get_config(key)
    source = f"{STACKS_DIR}/Pulumi.{pulumi.get_stack()}.yaml"
    try:
        # The provider falls back to ARM_ENVIRONMENT, so the cloud check must see it too.
        return parse_stack_config(raw, source, arm_environment=os.environ.get(ARM_ENVIRONMENT))
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
