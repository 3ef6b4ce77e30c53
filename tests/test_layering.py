"""Test helpers live in helper modules; the import contracts themselves run in .ci/run (lint-imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

from tests.sources import PACKAGES
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


def _import_graph() -> dict[str, set[str]]:
    """Return each module of the project's packages and the project modules it imports, lazy imports included."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_two_modules_import_each_other_even_lazily() -> None:
    """No import cycle, direct or through other modules, counting imports inside functions."""
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_lazy_cycle() -> None:
    """The check above would see the cycle verify/federated.py and verify/inputs.py once had."""
    graph = {"inputs": {"federated", "secret"}, "federated": {"inputs"}, "secret": set()}
    assert _cycles(graph) == [["federated", "inputs"]]


def test_only_the_commands_reach_into_the_tenant_reader() -> None:
    """Audit and adopt's library (exo_oauth.tenant) is reached from its commands only, never from below them.

    The offline plan once read adopt's import file from exo_oauth/tenant/: a general module climbing into a
    feature package that itself imports the plan. The import file now lives with the plan.
    """
    graph = _import_graph()
    climbing = sorted(f"{module} -> {imported}" for module, imports in graph.items() for imported in imports
                      if imported.startswith("exo_oauth.tenant.")
                      and not module.startswith(("exo_oauth.tenant.", "exo_oauth.commands.")))
    assert climbing == []
