"""The exo-oauth policy pack: `pulumi preview --policy-pack policy` runs this file.

The rules live in the repository (exo_oauth/policy_rules.py) so that `exo-oauth plan` applies the very same checks
offline. The pack imports them from the repository root, one folder up, instead of installing the project into its
own virtualenv: the rules need only the standard library, while installing the project would pull Pulumi providers,
msal and cryptography into the pack, and pip resolves a relative `-e ..` against its working directory, not this
folder. So the pack runs from a checkout of this repository (which is how `pulumi preview` is run here).
"""

import sys
from pathlib import Path

# The repository root, so that `exo_oauth` below resolves to this checkout (see the docstring).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from exo_oauth.policy_pack import PACK_NAME, resource_policies

PolicyPack(name=PACK_NAME, policies=resource_policies())
