"""exo_oauth/plan/offline.py: a failed parallel plan quiets its executor thread's teardown once per process."""

from __future__ import annotations

import threading
from concurrent.futures import InvalidStateError

import pytest

from exo_oauth.plan import offline as plan


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
