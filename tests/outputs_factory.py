"""Stack outputs as a deployed stack gives them, built from the offline plan of an example stack."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exo_oauth.plan import plan_stack
from exo_oauth.project import load_stack
from tests.stack_factory import PROJECT, REPO


def deployed_outputs(stack: str) -> dict[str, Any]:
    """Return a stack's outputs as `pulumi stack output --json --show-secrets` gives them, from the offline plan."""
    outputs = plan_stack(REPO, load_stack(PROJECT, stack), datetime.now(UTC)).outputs
    secret_apps = [name for name, app in outputs["apps"].items() if app["credential"]["type"] == "secret"]
    return outputs | {"clientSecrets": dict.fromkeys(secret_apps, "stand-in-secret-value")}
