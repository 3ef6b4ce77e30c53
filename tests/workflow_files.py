"""The repository's GitHub workflow and composite action files, and how to read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.stack_factory import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((REPO / ".github" / "actions").glob("*/action.yml"))


def load(path: Path) -> dict[Any, Any]:
    """Return a workflow or action file as data (YAML's `on:` key reads as True)."""
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data
