"""When a failed webhook message is tried again (REFERENCE §6), and how long a receiver may ask us to wait.

After the n-th failed attempt the message waits `RETRY_DELAYS[n-1]` (±10% jitter, so the messages of an outage do
not all come back in the same second); the 8th failure makes it dead. The whole schedule spans ~27.5 hours: an
outage shorter than that loses nothing. A receiver answering 429 or 503 with `Retry-After` (seconds or an HTTP
date) waits the larger of that and the schedule, capped at `MAX_RETRY_AFTER`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # the first try and one per delay: the 8th failure is final
JITTER = 0.1
MAX_RETRY_AFTER = timedelta(hours=24)
RETRY_AFTER_STATUSES = frozenset({429, 503})

# Jitter from a generator of our own, not the random module's shared one (see ledgers/sources/base.py).
_RNG = random.Random()  # noqa: S311 - jitter, not cryptography


def schedule_span() -> timedelta:
    """How long a message is retried before it is dead (without jitter): ~27.5 hours."""
    return sum(RETRY_DELAYS, timedelta())


def retry_delay(
    failed_attempts: int,
    *,
    retry_after: timedelta | None = None,
    uniform: Callable[[float, float], float] = _RNG.uniform,
) -> timedelta | None:
    """The wait before the next attempt of a message that has now failed `failed_attempts` times (1-based), or
    None when it is dead. `retry_after` (what the receiver asked for) lengthens the wait, never shortens it."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    scheduled = RETRY_DELAYS[max(failed_attempts, 1) - 1] * uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        scheduled = max(scheduled, min(retry_after, MAX_RETRY_AFTER))
    return scheduled


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A `Retry-After` header's wait: delta seconds or an HTTP date (relative to `now`); None when absent or
    unreadable (then the schedule alone decides)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta())
