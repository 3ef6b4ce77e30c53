"""Overlapping client-secret rotation: which secrets an app holds on a given day (docs/decisions/0032, 0140).

Pure: no Pulumi, no I/O. Secrets are born on a per-app schedule, one every `lifetimeDays - rotateBeforeDays` days
counted from the app's anchor (the UTC day of its first `pulumi up`, kept in Pulumi's state by a `time` Static), and
each lives `lifetimeDays` from the start of its period, so a new secret arrives `rotateBeforeDays` before the previous
one ends. Two resource slots take turns (even periods in `a`, odd in `b`), so a rotation replaces only the slot whose
secret has already ended. A slot whose secret has ended and whose turn has not come is not declared, and `pulumi up`
deletes only secrets past their end date. No period starts before the anchor, so a first deploy creates one secret
that lives the whole `lifetimeDays`.

Given the anchor, the schedule is a function of the day alone, so `pulumi preview` shows exactly what `pulumi up`
will do on the same day, with or without a refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ROTATION_CADENCE_DAYS = 7
"""The longest gap between two `pulumi up` runs that rotation relies on: rotation.yml's weekly schedule. An overlap
(`rotateBeforeDays`) shorter than this could end the old credential before the run that brings the new one."""
SLOTS = ("a", "b")
"""Resource name suffixes of the two secret slots: `<name>-secret-a`, `<name>-secret-b`."""


@dataclass(frozen=True)
class SecretTerm:
    """One secret of the schedule: which slot holds it, and when its period starts and the secret ends."""

    slot: str
    """`a` (even periods) or `b` (odd periods)."""
    start: datetime
    """When the period starts: the secret is created by the first `pulumi up` on or after it."""
    end_date: datetime
    """When the secret expires in Entra ID: `lifetimeDays` after `start`."""


def anchor_day(moment: datetime) -> datetime:
    """Return the start (00:00 UTC) of `moment`'s UTC day: a first deploy's anchor, so periods start at midnight."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def live_secrets(
    now: datetime, lifetime_days: int, rotate_before_days: int, anchor: datetime
) -> tuple[SecretTerm, ...]:
    """Return the secrets that exist at `now`, newest first: the current period's, and the previous one's till its end.

    Periods are counted from `anchor`, and none starts before it. Needs `rotate_before_days <= lifetime_days // 2`,
    so no more than two secrets are ever valid at once.
    """
    period = timedelta(days=lifetime_days - rotate_before_days)
    current = max(0, (now - anchor) // period)
    terms = []
    for number in (current, current - 1):
        start = anchor + number * period
        end = start + timedelta(days=lifetime_days)
        if number >= 0 and end > now:
            terms.append(SecretTerm(SLOTS[number % 2], start, end))
    return tuple(terms)


def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _system_clock


def today() -> datetime:
    """Return the time the program decides rotation by: the system clock, or the offline plan's fixed clock."""
    return _clock()


@contextmanager
def fixed_clock(moment: datetime) -> Iterator[None]:
    """Run the program as if it were `moment` (the offline plan and the rotation simulation)."""
    global _clock  # noqa: PLW0603 - one process-wide clock, set only around an in-process program run
    previous = _clock
    _clock = lambda: moment  # noqa: E731
    try:
        yield
    finally:
        _clock = previous
