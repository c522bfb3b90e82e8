"""Instants at the calendar's edges (core.instants) and fingerprints of amounts past 64 bits (core.ids)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from core.ids import filters_fingerprint
from core.instants import EARLIEST, LATEST, earlier, utc_instant


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), EARLIEST),
        (datetime.max.replace(tzinfo=timezone(timedelta(hours=-1))), LATEST),
        (datetime.min, EARLIEST),
        (datetime(2025, 6, 1, 14, tzinfo=timezone(timedelta(hours=2))), datetime(2025, 6, 1, 12, tzinfo=UTC)),
        (datetime(2025, 6, 1, 12), datetime(2025, 6, 1, 12, tzinfo=UTC)),
    ],
)
def test_instants_are_utc_and_clamped(moment: datetime, expected: datetime) -> None:
    result = utc_instant(moment)
    assert result == expected and result.utcoffset() == timedelta(0)


def test_a_window_before_the_earliest_instant_saturates() -> None:
    assert earlier(datetime.min.replace(tzinfo=UTC), timedelta(hours=24)) == EARLIEST
    assert earlier(EARLIEST + timedelta(hours=1), timedelta(hours=24)) == EARLIEST
    assert earlier(LATEST, timedelta(hours=24)) == LATEST - timedelta(hours=24)


def test_fingerprints_take_integers_past_64_bits_and_keep_the_others() -> None:
    small = {"filters": [[["amount_raw"], "gte", 2**63 - 1]]}
    # What the fingerprint was before integers past 64 bits were handled: cursors issued then stay valid.
    before = hashlib.sha256(orjson.dumps(small, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:16]
    assert filters_fingerprint(small) == before
    huge = {"filters": [[["amount_raw"], "gte", 2**64]]}
    assert filters_fingerprint(huge) != filters_fingerprint({"filters": [[["amount_raw"], "gte", 2**65]]})
