"""Row ids sort like order keys and round-trip; cursors are bound to their filters."""

from __future__ import annotations

import random

import pytest

from core.errors import BadRequest
from core.ids import OrderKey, decode_cursor, encode_cursor, filters_fingerprint, row_id


def test_ids_sort_like_order_keys_and_round_trip() -> None:
    rng = random.Random(7)
    keys = [
        OrderKey(
            rng.randrange(1, 70_000_000),
            rng.randrange(0, 6000),
            rng.randrange(0, 101),
            rng.randrange(0, 3000),
        )
        for _ in range(2000)
    ]
    assert sorted(keys, key=lambda k: k.id) == sorted(keys)
    for key in keys:
        assert OrderKey.from_id(key.id) == key


def test_id_is_horizon_paging_token_plus_event_index() -> None:
    # Horizon's paging token of operation 1 of transaction 3 in ledger 63092982.
    assert row_id(63092982, 3, 1, 5) == f"{(63092982 << 32) | (3 << 12) | 1:019d}-0000000005"
    assert row_id(63092982, 3, None, 0).startswith(f"{(63092982 << 32) | (3 << 12):019d}")
    rng = random.Random(16)
    for _ in range(2000):
        ledger, tx, op = rng.randrange(1, 2**32), rng.randrange(0, 1 << 20), rng.randrange(0, 1 << 12)
        event = rng.choice((0, 9, rng.randrange(0, 2**40)))
        assert row_id(ledger, tx, op, event) == f"{(ledger << 32) | (tx << 12) | op:019d}-{event:010d}"


def test_out_of_range_and_bad_ids() -> None:
    with pytest.raises(ValueError, match="TOID range"):
        _ = OrderKey(1, 1 << 20).id
    for bad in ("", "abc", "12-x", "-1"):
        with pytest.raises(ValueError, match="not a row id"):
            OrderKey.from_id(bad)


def test_cursor_round_trip_and_filter_binding() -> None:
    fp = filters_fingerprint({"account": "GABC", "assets": ["native"]})
    assert fp == filters_fingerprint({"assets": ["native"], "account": "GABC"})
    cursor = encode_cursor(row_id(5, 1, 1, 0), fp)
    assert decode_cursor(cursor, fp) == row_id(5, 1, 1, 0)
    other = filters_fingerprint({"account": "GXYZ"})
    with pytest.raises(BadRequest) as mismatch:
        decode_cursor(cursor, other)
    assert mismatch.value.code == "cursor_filters_mismatch"
    for bad in ("%%%", "bm9waXBl", "\u00e9"):
        with pytest.raises(BadRequest) as malformed:
            decode_cursor(bad, fp)
        assert malformed.value.code == "invalid_cursor"
