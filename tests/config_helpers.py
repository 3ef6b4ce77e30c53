"""Parse an in-memory stack as stacks/Pulumi.test.yaml at a fixed clock, for the config validation tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exo_domain.config import parse_stack_config
from tests.stack_factory import app, raw_config

SOURCE = "stacks/Pulumi.test.yaml"
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def parse(raw: dict[str, Any]) -> Any:
    """Parse `raw` as stacks/Pulumi.test.yaml at a fixed clock."""
    return parse_stack_config(raw, SOURCE, NOW)


def with_app(**overrides: Any) -> dict[str, Any]:
    """Return a stack with one app, changed by `overrides`."""
    return raw_config(app(**overrides))
