"""Read this project's stack config from the Pulumi runtime and validate it."""

from __future__ import annotations

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from .config import AZUREAD_ENVIRONMENT, PROJECT, STACKS_DIR, StackConfig, parse_stack_config
from .errors import ConfigError


def read_stack_config() -> StackConfig:
    """Return the current stack's validated config; on bad config, stop the run with one line and no traceback."""
    keys = set(CONFIG.get()) | set(get_config_env())
    raw = {k: pulumi.runtime.get_config(k) for k in keys if k.startswith(f"{PROJECT}:")}
    raw["azuread:tenantId"] = pulumi.runtime.get_config("azuread:tenantId")
    raw[AZUREAD_ENVIRONMENT] = pulumi.runtime.get_config(AZUREAD_ENVIRONMENT)
    try:
        return parse_stack_config(raw, f"{STACKS_DIR}/Pulumi.{pulumi.get_stack()}.yaml")
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
