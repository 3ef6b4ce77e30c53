"""Test helpers live in helper modules; the import contracts themselves run in .ci/run (lint-imports)."""

from __future__ import annotations

import re

from tests.stack_factory import REPO


def test_no_test_module_imports_another_test_module() -> None:
    """Shared test helpers live in helper modules (tests/certificates.py and the like), not in a test_*.py."""
    importers = [path.name for path in (REPO / "tests").rglob("test_*.py")
                 if re.search(r"^\s*from tests(?:\.\w+)*\.test_\w+ import", path.read_text(encoding="utf-8"),
                              flags=re.MULTILINE)]
    assert importers == []

