"""Check Mermaid graphs with the real parser: npm mermaid@11 on jsdom under Node (.ci/node/check-mermaid.mjs).

One checker process serves the whole test session: loading mermaid and jsdom is most of a check's time.
"""

from __future__ import annotations

import atexit
import functools
import json
import select
import shutil
import subprocess
import time
from typing import Any

from tests.stack_factory import REPO

CHECKER = REPO / ".ci" / "node" / "check-mermaid.mjs"
ANSWER_SECONDS = 120.0
"""Deadline for the checker's answer to one request (the first one includes loading mermaid)."""


@functools.cache
def _checker() -> subprocess.Popen[str]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH; .ci/run installs the test tools"
    assert (CHECKER.parent / "node_modules" / "mermaid").is_dir(), "run `npm ci --prefix .ci/node` (.ci/run does)"
    process = subprocess.Popen([node, str(CHECKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    atexit.register(_stop, process)
    return process


def _stop(process: subprocess.Popen[str]) -> None:
    """End the checker: it exits at the end of its input; kill it if it does not."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(ANSWER_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def mermaid_parse(sources: list[str]) -> list[dict[str, Any]]:
    """Return, per source, {"ok": True, "type": ...} or {"ok": False, "error": ...} from mermaid.parse."""
    process = _checker()
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(json.dumps(sources) + "\n")
    process.stdin.flush()
    deadline = time.monotonic() + ANSWER_SECONDS
    while not select.select([process.stdout], [], [], 1.0)[0]:
        assert process.poll() is None, f"the mermaid checker exited with status {process.returncode}"
        assert time.monotonic() < deadline, f"the mermaid checker gave no answer within {ANSWER_SECONDS} s"
    results: list[dict[str, Any]] = json.loads(process.stdout.readline())
    return results
