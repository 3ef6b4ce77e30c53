"""Check Mermaid graphs with the real parser: npm mermaid@11 on jsdom under Node (.ci/node/check-mermaid.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from tests.stack_factory import REPO

CHECKER = REPO / ".ci" / "node" / "check-mermaid.mjs"


def mermaid_parse(sources: list[str]) -> list[dict[str, Any]]:
    """Return, per source, {"ok": True, "type": ...} or {"ok": False, "error": ...} from mermaid.parse."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH; .ci/run installs the test tools"
    assert (CHECKER.parent / "node_modules" / "mermaid").is_dir(), "run `npm ci --prefix .ci/node` (.ci/run does)"
    done = subprocess.run([node, str(CHECKER)], input=json.dumps(sources), capture_output=True, text=True,
                          timeout=120, check=True)
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results
