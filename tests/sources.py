"""The project's own Python sources, for the tests that read the code (guards against copies and literals)."""

from __future__ import annotations

from pathlib import Path

from tests.stack_factory import REPO

PACKAGES = ("exo_domain", "components", "exo_oauth")
"""The project's packages, as import-linter's root_packages name them."""


def source_files() -> list[Path]:
    """Return every module of the project's packages, and the Pulumi program."""
    return [*sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py")), REPO / "__main__.py"]
