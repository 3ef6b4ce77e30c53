"""The policy rules as pulumi-policy objects: what policy/__main__.py hands to PolicyPack.

Kept apart from policy/__main__.py because constructing PolicyPack starts the analyzer server and blocks, so tests
exercise these policies and validators directly. Imports pulumi_policy: only the pack and the tests load this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .rules import RULES, PolicyConfig, Rule, config_from_pack

PACK_NAME = "exo-oauth"
"""The pack's name, as `pulumi preview` and `pulumi up` report it."""

Validator = Callable[[ResourceValidationArgs, ReportViolation], None]


def validator(rule: Rule, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Validator:
    """Return the pulumi-policy validate callback for `rule`, reading its settings from the pack's config.

    A value unknown during preview raises pulumi_policy's UnknownValueError out of the callback on purpose: the
    engine then reports that the policy could not run during preview, instead of a pass.
    """

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config = config_from_pack(rule, args.get_config())
        for message in rule.run(args.resource_type, args.props, config, clock()):
            report_violation(message, None)

    return validate


def config_schema(rule: Rule) -> PolicyConfigSchema | None:
    """Return the JSON schema of `rule`'s settings, with their defaults, or None when it has none."""
    if not rule.settings:
        return None
    defaults = PolicyConfig()
    return PolicyConfigSchema(
        properties={
            s.key: {
                "type": "integer",
                "minimum": s.minimum,
                "maximum": s.maximum,
                "default": getattr(defaults, s.attribute),
                "description": s.description,
            }
            for s in rule.settings
        }
    )


def resource_policies() -> list[Policy]:
    """Return one ResourceValidationPolicy per rule, with the rule's name, description, level and Learn link."""
    return [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=validator(rule),
            enforcement_level=EnforcementLevel(rule.level),
            config_schema=config_schema(rule),
            url=rule.url,
        )
        for rule in RULES
    ]
