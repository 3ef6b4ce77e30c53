"""exo_oauth/plan/offline.py: a plan leaves the process as it found it (teardown filter, garbage collector)."""

from __future__ import annotations

import gc
import threading
from concurrent.futures import InvalidStateError
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.plan import offline as plan
from tests.stack_factory import REPO, app, loaded, raw_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_the_teardown_filter_is_installed_once_and_passes_other_errors_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeated failures keep one filter (no chain of hooks); it drops InvalidStateError and reports the rest."""
    seen: list[type[BaseException] | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_type))
    plan._quiet_cancelled_futures()
    installed = threading.excepthook
    for _ in range(3):
        plan._quiet_cancelled_futures()
    assert threading.excepthook is installed
    for error in (InvalidStateError("cancelled"), RuntimeError("a real failure")):
        installed(threading.ExceptHookArgs([type(error), error, None, None]))
    assert seen == [RuntimeError]


@pytest.mark.parametrize("fails_at", [None, 2])
def test_stacks_after_the_first_plan_with_the_long_lived_objects_frozen_and_none_stay_frozen(
    fails_at: int | None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The collector skips what the first stack's run left alive while the rest plan; then nothing stays frozen.

    Also when a stack fails.
    """
    frozen_while_planning: list[bool] = []

    def plan_stack(*_: object, **__: object) -> Any:
        frozen_while_planning.append(gc.get_freeze_count() > 0)
        if len(frozen_while_planning) == fails_at:
            raise RuntimeError("the program failed")
        return len(frozen_while_planning)

    monkeypatch.setattr(plan, "plan_stack", plan_stack)
    stacks: list[Any] = [None] * 3
    if fails_at is None:
        planned: list[Any] = plan.plan_stacks(Path(), stacks, NOW, jobs=1)
        assert planned == [1, 2, 3]
    else:
        with pytest.raises(RuntimeError, match="the program failed"):
            plan.plan_stacks(Path(), stacks, NOW, jobs=1)
    assert frozen_while_planning == [False, True, True][: fails_at or 3]
    assert gc.get_freeze_count() == 0


def test_a_plan_joins_its_monitor_threads_so_none_outlives_it() -> None:
    """The monitor's threads (each with an event loop) end with the plan, one stack or a batch, not at exit.

    Left to interpreter exit, their loops could be finalized after their sockets and print a traceback.
    """
    stack = loaded(raw_config(app(name="a")))
    before = set(threading.enumerate())
    plan.plan_stack(REPO, stack, NOW)
    assert set(threading.enumerate()) <= before
    plan.plan_stacks(REPO, [stack, stack], NOW, jobs=1)
    assert set(threading.enumerate()) <= before
