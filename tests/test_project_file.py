"""Pulumi.yaml: the settings `pulumi up` depends on for this design."""

from __future__ import annotations

import yaml

from tests.stack_factory import REPO


def test_project_refreshes_before_every_update_and_reads_stacks_from_stacks_dir() -> None:
    """Rotation needs a refresh on every update, and stack files live under stacks/ in the project's virtualenv."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == "exo-oauth"
    assert project["options"] == {"refresh": "always"}
    assert project["stackConfigDir"] == "stacks"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert "config" not in project  # Pulumi types cannot describe the app list; see stack-config.schema.json
