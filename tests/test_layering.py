"""Test helpers live in helper modules; the import contracts themselves run in .ci/run (lint-imports)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.stack_factory import REPO


def _imported_modules(path: Path) -> set[str]:
    """Return every module `path` imports, relative imports resolved against the tests package."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "tests" if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            modules |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return modules


def test_no_test_module_imports_another_test_module() -> None:
    """Shared test helpers live in helper modules (tests/certificates.py and the like), not in a test_*.py."""
    importers = [path.name for path in (REPO / "tests").rglob("test_*.py")
                 if any(name.rsplit(".", 1)[-1].startswith("test_") for name in _imported_modules(path))]
    assert importers == []
