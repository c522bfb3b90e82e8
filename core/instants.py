"""Instants a client gives (REST `from`/`to`, GraphQL `DateTime` inputs), made safe for arithmetic and storage.

Python's `datetime` spans years 1-9999 and stops there: `0001-01-01T00:00:00+01:00` is a valid ISO 8601 text
whose UTC instant lies before year 1, and one day before `0001-01-02` cannot be computed. Every instant a client
gives is therefore read as aware UTC and clamped into ``[EARLIEST, LATEST]``: no ledger closed outside that
span (Stellar's first closed in 2015), so a clamped bound selects exactly the rows the bound as written would
select, while windows (`until - 24 h`), bucket edges and the database's own conversions keep far from the
calendar's ends. See docs/decisions.md "Dates at the calendar's edges".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utc_instant(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (a naive one is taken as UTC), clamped into ``[EARLIEST, LATEST]``.

    Aware datetimes compare without converting, so an instant beyond the calendar is clamped before any
    conversion could overflow."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if aware <= EARLIEST:
        return EARLIEST
    if aware >= LATEST:
        return LATEST
    return aware.astimezone(UTC)


def earlier(moment: datetime, delta: timedelta) -> datetime:
    """`moment - delta`, never before `EARLIEST` (window arithmetic on a client's instant cannot overflow)."""
    start = utc_instant(moment)
    return EARLIEST if start - EARLIEST <= delta else start - delta
