"""The exo-oauth policy pack: `pulumi preview --policy-pack policy` runs this file.

The rules live in the project (exo_oauth/policy/rules.py), so that `exo-oauth plan` applies the very same checks
offline. The pack imports them from the installed project: policy/requirements.txt installs this checkout into the
pack's virtualenv (docs/decisions/0100-policy-pack-installs-the-project.md).
"""

from pulumi_policy import PolicyPack

from exo_oauth.policy.pack import PACK_NAME, resource_policies

PolicyPack(name=PACK_NAME, policies=resource_policies())
