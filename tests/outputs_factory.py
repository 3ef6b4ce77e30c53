"""Stack outputs as a deployed stack gives them, built from the offline plan of an example or in-memory stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from exo_oauth.commands.exchange import STANDIN_ID
from exo_oauth.fleet.project import LoadedStack, load_stack
from exo_oauth.plan.offline import plan_stack
from tests.stack_factory import PROJECT, REPO


def deployed_outputs(stack: str) -> dict[str, Any]:
    """Return a stack's outputs as `pulumi stack output --json --show-secrets` gives them, from the offline plan."""
    return planned_outputs(load_stack(PROJECT, stack))


def planned_outputs(stack: LoadedStack) -> dict[str, Any]:
    """Return the offline plan's outputs of any loaded stack, with a stand-in value for each client secret."""
    outputs = plan_stack(REPO, stack, datetime.now(UTC)).outputs
    secret_apps = [name for name, app in outputs["apps"].items() if app["credential"]["type"] == "secret"]
    return outputs | {"clientSecrets": dict.fromkeys(secret_apps, "stand-in-secret-value")}


def real_looking(outputs: dict[str, Any]) -> dict[str, Any]:
    """Return `outputs` with every offline stand-in ID swapped for a GUID like a deployed object's (same hash)."""
    text = STANDIN_ID.sub(lambda found: "d0d0d0d0" + found.group(0)[8:], json.dumps(outputs))
    swapped: dict[str, Any] = json.loads(text)
    return swapped
