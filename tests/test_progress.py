"""Progress on stderr: stacks done out of total and the time left, on a terminal only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.offline import plan_stacks
from exo_oauth.util.progress import Progress, progress_line
from tests.stack_factory import PROJECT


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Say yes, as a terminal does."""
        return True


def ticks(*values: float) -> Iterator[float]:
    """Return a clock that gives these readings in turn."""
    return iter(values)


def test_line_says_done_of_total_and_time_left_at_the_rate_so_far() -> None:
    """After 10 of 40 stacks in 5 s, 30 are left at 0.5 s each: about 15 s."""
    assert progress_line("plan", 10, 40, 5.0) == "plan: 10/40 stacks, about 15 s left"
    assert progress_line("plan", 100, 1000, 60.0) == "plan: 100/1000 stacks, about 9 min left"
    assert progress_line("plan", 40, 40, 20.0) == "plan: 40/40 stacks"


def test_terminal_gets_one_redrawn_line_then_a_clean_one() -> None:
    """On a terminal each update rewrites the line, and close clears it for the command's output."""
    stream = Terminal()
    clock = ticks(0.0, 1.0, 2.0)
    progress = Progress("plan", 2, stream, clock=lambda: next(clock))
    progress.advance()
    progress.advance()
    progress.close()
    assert stream.getvalue() == ("\rplan: 1/2 stacks, about 1 s left\x1b[K\rplan: 2/2 stacks\x1b[K\r\x1b[K")


def test_redirected_stderr_gets_nothing() -> None:
    """A log file or pipe stays free of progress lines."""
    stream = io.StringIO()
    progress = Progress("plan", 3, stream)
    for _ in range(3):
        progress.advance()
    progress.close()
    assert stream.getvalue() == ""


@pytest.mark.parametrize("jobs", [1, 2])
def test_plan_reports_every_stack_once(jobs: int, two_workers_from_ten_stacks: int) -> None:
    """plan_stacks calls back for every stack, alone or in worker chunks, and the counts add up to the total."""
    stacks = [load_stack(PROJECT, name) for name in ("contoso", "fabrikam")] * (two_workers_from_ten_stacks // 2)
    stacks = [s.__class__(f"{s.name}{i}", s.path, s.raw, s.config) for i, s in enumerate(stacks)]
    counts: list[int] = []
    plans = plan_stacks(PROJECT, stacks, datetime.now(UTC), jobs, counts.append)
    assert sum(counts) == len(stacks) == len(plans)
    assert [p.stack for p in plans] == [s.name for s in stacks]
    if jobs == 1:
        assert counts == [1] * len(stacks)
    else:
        assert 2 < len(counts) < len(stacks)
