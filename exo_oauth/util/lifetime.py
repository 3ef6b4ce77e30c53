"""Nothing outlives the command: worker processes die with their parent, and SIGTERM unwinds like Ctrl-C.

SIGTERM (what CI runners and `timeout` send) raises Terminated in the main thread, so `with` blocks run: temporary
trees are removed and worker pools are killed. Workers ask Linux to kill them when their parent dies
(PR_SET_PDEATHSIG, which also covers SIGKILL of the parent) and, everywhere, watch for the parent to go.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from exo_domain.exit_codes import ExitCode

PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 1.0


class Terminated(BaseException):
    """SIGTERM arrived; a BaseException so that no `except Exception` swallows it."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated (in the main thread only; elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere; watch_parent covers the rest)."""
    if not sys.platform.startswith("linux"):
        return
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def watch_parent(parent: int) -> None:
    """Exit this process at once when `parent` is no longer its parent (it died, or was killed)."""
    if os.getppid() != parent:
        os._exit(ExitCode.FAILED)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(ExitCode.FAILED)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def worker_initializer(parent: int) -> None:
    """Make this worker process die with `parent`: by signal on Linux, and by watching everywhere."""
    die_with_parent()
    watch_parent(parent)
    # The parent decides about SIGINT and SIGTERM for the group; a worker only dies with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
