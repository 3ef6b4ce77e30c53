"""Per-stack digests of the offline plan: what `stacks --changed-since` compares between two commits.

A stack needs a real preview and deploy after a code change only if its planned resources, its outputs or its
Exchange Online scripts differ. Each side is digested by its own code: `changes` runs this module with the base
commit's tree, then the working tree, first on PYTHONPATH (`python -m exo_oauth.plan_digest PROJECT_DIR NOW
STACK...`), both at the same instant, since credential end dates follow the clock. The printed JSON carries
`format`: a base that prints another format, or has no such module, cannot be compared. Pulumi is imported only to
plan, so `changes` reads FORMAT without it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .fleet.project import load_stack

FORMAT = 1
"""The shape of the printed JSON: both sides must print this one to be compared."""


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def digest_stacks(project_dir: Path, names: Sequence[str], now: datetime) -> dict[str, dict[str, str]]:
    """Plan the stacks offline at `now` and return, per stack, a SHA-256 of its resources, outputs and scripts.

    `exchange` digests the three scripts (apply, verify, remove) rendered offline from the planned outputs, so a
    change of the renderer shows even where the outputs stay the same.
    """
    from exo_domain.exchange_scripts import exchange_inputs, render_exchange_scripts  # noqa: PLC0415

    from .plan.offline import plan_stacks  # noqa: PLC0415 - imports Pulumi

    stacks = [load_stack(project_dir, name) for name in names]
    digests = {}
    for plan, stack in zip(plan_stacks(project_dir, stacks, now), stacks, strict=True):
        inputs = exchange_inputs(stack.name, stack.config.tenant_id, plan.outputs.get("apps", {}),
                                 stack.config.exchange, source=f"offline plan of stack {stack.name}",
                                 cloud=stack.config.cloud)
        scripts = render_exchange_scripts(inputs, offline=True)
        digests[stack.name] = {"resources": _digest(plan.resources), "outputs": _digest(plan.outputs),
                               "exchange": _digest(scripts)}
    return digests


def main(argv: Sequence[str]) -> int:
    """Print {"format": FORMAT, "stacks": {name: {part: sha256}}} for PROJECT_DIR NOW STACK...; 2 on error."""
    from exo_domain.errors import ConfigError  # noqa: PLC0415
    from exo_domain.exit_codes import ExitCode  # noqa: PLC0415

    from .util.errors import UsageError  # noqa: PLC0415

    try:
        project_dir, now, *names = argv
        digests = digest_stacks(Path(project_dir), names, datetime.fromisoformat(now))
    except (UsageError, ConfigError, ValueError) as error:
        print(f"exo_oauth.plan_digest: {error}; usage: python -m exo_oauth.plan_digest PROJECT_DIR NOW STACK...",
              file=sys.stderr)
        return ExitCode.USAGE
    print(json.dumps({"format": FORMAT, "stacks": digests}))
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
