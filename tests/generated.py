"""Check a generated file or block against its source; an update run rewrites it, and still does not pass."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest


def check_generated(current: str, expected: str, write: Callable[[], None], variable: str) -> None:
    """Assert that `current` is `expected`; with `variable`=1 in the environment, first write `expected` (by `write`).

    A rewrite fails the test anyway, so an update run never counts as a passing check: review the diff, then run
    the tests again without the variable.
    """
    if current == expected:
        return
    if os.environ.get(variable) == "1":
        write()
        pytest.fail(f"rewritten from its source ({variable}=1): review the diff, then run the tests without it")
    assert current == expected
