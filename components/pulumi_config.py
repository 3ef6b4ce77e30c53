"""Read this project's stack config from the Pulumi runtime, validate it, and map each app onto the component's args."""

from __future__ import annotations

import os

import pulumi

from exo_domain.config import (
    ARM_ENVIRONMENT,
    AZUREAD_ENVIRONMENT,
    AZUREAD_METADATA_HOST,
    PROJECT,
    STACKS_DIR,
    AppConfig,
    StackConfig,
    mistyped,
    parse_stack_config,
)
from exo_domain.errors import ConfigError

from . import pulumi_sdk
from .mail_app import MailOAuthAppArgs


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


def app_args(app: AppConfig, config: StackConfig) -> MailOAuthAppArgs:
    """Map one app of the stack file onto the component's args: the one place a new app key is passed on."""
    return MailOAuthAppArgs(
        tenant_id=config.tenant_id,
        flow=app.flow,
        protocols=app.protocols,
        owners=app.owners,
        display_name=app.display_name,
        mailboxes=app.mailboxes,
        credential=app.credential,
        redirect_uris=app.redirect_uris,
        public_client=app.public_client,
        notes=app.notes,
        tags=app.tags,
        exchange_access=app.exchange_access,
        sign_in_mailboxes=app.sign_in_mailboxes,
        sign_in_group=app.sign_in_group,
        app_role_assignment_required=app.app_role_assignment_required,
        cloud=config.cloud,
    )
