"""The exo-oauth Pulumi program: one stack per tenant, one MailOAuthApp per configured app."""

from pathlib import Path

import pulumi

from components.exchange_hook import ExchangeScriptWriter
from components.first_party import lookup_first_party_apis
from components.mail_app import MailOAuthApp, all_summaries
from components.pulumi_config import app_args, read_stack_config
from exo_domain.outputs import StackOutputs
from exo_domain.permissions import permissions_for

OUT_DIR = Path("out")
"""`pulumi up` writes out/<stack>/exchange-{apply,verify,remove}.ps1 (docs/exchange.md)."""

stack = pulumi.get_stack()
config = read_stack_config()
preview = pulumi.runtime.is_dry_run()
# A preview, and so the offline plan, writes no files and needs no hooks: only `pulumi up` creates and knows IDs.
writer = ExchangeScriptWriter(stack, config, None if preview else OUT_DIR / stack)
apis = lookup_first_party_apis(
    p.api for app in config.apps for p in permissions_for(app.flow, app.protocols, app.exchange_access)
)
apps = {
    app.name: MailOAuthApp(app.name, app_args(app, config), first_party=apis,
                           service_principal_hooks=None if preview else writer.hooks(app.name))
    for app in config.apps
}
summaries = {name: component.summary for name, component in apps.items()}

# The keys and shapes are the outputs model's (exo_domain/outputs.py StackOutputs), which every reader reads back.
exports = StackOutputs.exports(
    tenant_id=config.tenant_id,
    apps=summaries,
    client_secrets=pulumi.Output.secret(
        {app.name: apps[app.name].client_secret for app in config.apps if app.credential.type == "secret"}
    ),
    exchange=all_summaries(apps).apply(writer.from_outputs),
)
for key, value in exports.items():
    pulumi.export(key, value)
