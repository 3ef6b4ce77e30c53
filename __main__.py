"""The exo-oauth Pulumi program: one stack per tenant, one MailOAuthApp per configured app."""

import pulumi

from components.first_party import lookup_first_party_apis
from components.mail_app import MailOAuthApp
from components.permissions import permissions_for
from components.pulumi_config import read_stack_config

config = read_stack_config()
apis = lookup_first_party_apis(p.api for app in config.apps for p in permissions_for(app.flow, app.protocols))
apps = {app.name: MailOAuthApp(app.name, app, config.tenant_id, apis) for app in config.apps}

pulumi.export("tenantId", config.tenant_id)
pulumi.export("apps", {name: component.summary for name, component in apps.items()})
pulumi.export(
    "clientSecrets",
    pulumi.Output.secret(
        {app.name: apps[app.name].client_secret for app in config.apps if app.credential.type == "secret"}
    ),
)
