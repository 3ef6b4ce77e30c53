"""Count days the one way every message uses.

Whole UTC calendar days, so "ends on 2027-05-27" and "in 180 days" always agree.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(text: str) -> datetime:
    """Return an RFC 3339 time (`Z` or an offset; a naive time is taken as UTC) as an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_count(days: int) -> str:
    """Return `1 day` or `N days`, for messages."""
    return f"{days} day" if days in (1, -1) else f"{days} days"


def days_until(end: datetime, now: datetime) -> int:
    """Return the UTC calendar days from `now` to `end` (negative once past): 0 today, 1 tomorrow.

    A timedelta's `.days` floors, so an end date 180 days after a plan made a second earlier reads as 179.
    """
    return (end.astimezone(UTC).date() - now.astimezone(UTC).date()).days
