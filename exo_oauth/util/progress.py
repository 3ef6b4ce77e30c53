"""Progress of a long command on stderr: `plan: 120/1000 stacks, about 40 s left`, only when stderr is a terminal.

A redirected or piped stderr (CI logs, `2> file`) gets nothing, so logs keep one line per real message.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

MIN_INTERVAL_SECONDS = 0.2
"""Redraw at most this often: a terminal line per stack would cost more than it tells."""
MINUTES_FROM_SECONDS = 90
"""From this many seconds left, the estimate is shown in minutes."""


def progress_line(label: str, done: int, total: int, elapsed: float) -> str:
    """Return the text for `done` of `total` after `elapsed` seconds, with the time left at the rate so far."""
    line = f"{label}: {done}/{total} stacks"
    if 0 < done < total:
        left = elapsed / done * (total - done)
        line += f", about {left:.0f} s left" if left < MINUTES_FROM_SECONDS else f", about {left / 60:.0f} min left"
    return line


class Progress:
    """Counts finished stacks and redraws one stderr line; does nothing unless the stream is a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty()
        self._label, self._total, self._clock = label, total, clock
        self._start = self._last = clock()
        self._done = 0

    def advance(self, count: int = 1) -> None:
        """Record `count` more finished stacks and redraw if enough time has passed."""
        self._done += count
        now = self._clock()
        if self._enabled and (now - self._last >= MIN_INTERVAL_SECONDS or self._done >= self._total):
            self._last = now
            self._stream.write(f"\r{progress_line(self._label, self._done, self._total, now - self._start)}\x1b[K")
            self._stream.flush()

    def close(self) -> None:
        """Clear the line, so that the command's own output starts on a clean one."""
        if self._enabled:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
