"""Arrow columns of a cold file -> Python values as the hot store gives them, a column at a time.

Reading a month cold is mostly this conversion (DuckDB hands over Arrow far faster than Python can take it), so
each kind avoids per-value work where Arrow can do it in bulk (measured on 100k token transfers):

- timestamps: pyarrow's own `to_pylist` of a zoned timestamp is its slowest conversion (about half of all the
  time of a 23-column row). The values are read as int64 microseconds instead, each distinct one becomes a
  `datetime` once (a ledger's rows share its close time), and rows take them by index: several times faster, and
  the same aware `datetime`s in `datetime.UTC`.
- amounts (sortable text, `storage.amounts`): when every value of the column is non-negative and fits in 18
  digits (nearly always), Arrow cuts the digits out and parses them as int64 in bulk; else each value is
  decoded in Python. Both give exact Python ints.
- JSON: orjson unless a value may hold an integer past 64 bits (which orjson would turn into a float; the
  standard library keeps it an exact int); the check runs over the column at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from storage.amounts import SORTABLE_DIGITS, decode_sortable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAST_DIGITS = 18  # int64 holds every 18-digit number
_FAST_PREFIX = "p" + "0" * (SORTABLE_DIGITS - _FAST_DIGITS)  # a non-negative amount below 10**18


def timestamps(column: pa.ChunkedArray) -> list[datetime | None]:
    """A timestamp[us] column (any zone; values are UTC instants) -> aware datetimes in `datetime.UTC`."""
    micros = column.cast(pa.int64()).combine_chunks()
    encoded = pc.dictionary_encode(micros, null_encoding="encode")
    distinct = [
        None if v is None else _EPOCH + timedelta(microseconds=v) for v in encoded.dictionary.to_pylist()
    ]
    return [distinct[i] for i in encoded.indices.to_pylist()]


def amounts(column: pa.ChunkedArray) -> list[int | None]:
    """Sortable amount text -> exact ints (nulls stay None)."""
    small = pc.starts_with(column, _FAST_PREFIX)
    if pc.all(pc.fill_null(small, True)).as_py():
        digits = pc.utf8_slice_codeunits(column, 1 + SORTABLE_DIGITS - _FAST_DIGITS)
        fast: list[int | None] = pc.cast(digits, pa.int64()).to_pylist()
        return fast
    return [None if v is None else decode_sortable(v) for v in column.to_pylist()]


def json_values(column: pa.ChunkedArray) -> list[Any]:
    """JSON text -> values (nulls stay None), big integers exact."""
    wide = pc.match_substring_regex(column, r"\d{19}").to_pylist()
    return [
        None if v is None else json.loads(v) if w else orjson.loads(v)
        for v, w in zip(column.to_pylist(), wide, strict=True)
    ]
