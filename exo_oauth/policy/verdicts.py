"""Policy verdicts restated for the stack file: which key to change, and how to raise a limit instead.

Kept apart from policy_rules, which the policy pack loads with the standard library alone; this module reads the
validated stack config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exo_domain.config import PROJECT, StackConfig

from .rules import LEARN_APP_SECURITY, PolicyConfig, Violation

POLICY_CONFIG_HINT = ("raise the limit with `exo-oauth plan --policy-config FILE` (and `pulumi preview|up "
                      "--policy-pack-config FILE`), FILE holding {example}")


def _lifetime_fix(violation: Violation, stack: StackConfig, index: int, config: PolicyConfig) -> Violation:
    days = stack.apps[index].credential.lifetime_days
    if days is None or days <= config.max_credential_days:
        return violation
    example = f'{{"credential-max-lifetime": {{"maxDays": {days}}}}}'
    message = (f"{stack.source}: {PROJECT}:apps[{index}].credential.lifetimeDays is {days}, more than the "
               f"{config.max_credential_days} days the policy allows; set it to at most {config.max_credential_days}, "
               f"or {POLICY_CONFIG_HINT.format(example=example)}. See {LEARN_APP_SECURITY}")
    return dataclasses.replace(violation, message=message,
                               key=f"{stack.source}: {PROJECT}:apps[{index}].credential.lifetimeDays")


STACK_FIXES: Mapping[str, Callable[[Violation, StackConfig, int, PolicyConfig], Violation]] = {
    "credential-max-lifetime": _lifetime_fix,
}
"""Per rule, how a violation is restated as the stack key to change, when the stack's config decides it."""
RULE_KEYS: Mapping[str, str] = {
    "single-tenant-app": "",
    "mail-permissions-only": ".protocols",
    "https-redirect-uris": ".redirectUris",
    "app-owners-set": ".owners",
    "credential-max-lifetime": ".credential.lifetimeDays",
    "credential-expires-soon": ".credential",
}
"""Per rule, the key under `exo-oauth:apps[i]` that decides what the rule judges: named in every verdict line."""


def in_stack(violations: Sequence[Violation], resources: Sequence[Mapping[str, Any]], stack: StackConfig,
             config: PolicyConfig | None = None) -> list[Violation]:
    """Name each violation's resource and, for a resource of an app, the app and the stack key path that decides it.

    A resource belongs to the app whose MailOAuthApp component is its parent; a rule with a fix (STACK_FIXES) also
    restates its message as the stack key to change.
    """
    config = config or PolicyConfig()
    parents = {r["urn"]: r.get("parent") for r in resources}
    index = {app.name: i for i, app in enumerate(stack.apps)}
    located = []
    for violation in violations:
        parent = parents.get(violation.urn) or ""
        app = parent.rsplit("::", 1)[-1]
        app_index = index.get(app)
        named = dataclasses.replace(violation, resource=violation.urn.rsplit("::", 1)[-1])
        if app_index is None:
            located.append(named)
            continue
        named = dataclasses.replace(
            named, app=app, key=f"{stack.source}: {PROJECT}:apps[{app_index}]{RULE_KEYS.get(violation.policy, '')}")
        fix = STACK_FIXES.get(violation.policy)
        located.append(named if fix is None else fix(named, stack, app_index, config))
    return located
