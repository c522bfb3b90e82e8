"""`storage.query.Filter`s evaluated on one row in Python, with the semantics of their SQL (`storage.hot_query`).

Webhook endpoints filter with the queries' own filters: an event is recorded for a row exactly when the listing
query with the endpoint's filter would return that row, so a preview over stored history (SQL) and the messages
recorded live (this module, on the rows of the ingest batch) agree. The SQL semantics kept here:

- a NULL column never satisfies a comparison or an ``in`` (SQL's unknown is not true); ``eq`` with ``None`` is
  ``IS NULL``; ``in`` with no values matches nothing;
- several columns of one filter are OR'ed, the filters of a list AND'ed, ``either`` is an OR of filters;
- amounts are compared as the integers they are (`storage.amounts` keeps SQL exact too); booleans compare as
  SQLite and PostgreSQL compare them (``True == 1``).

Text ranges (``gt``/``lt`` on text) compare by code point here; the listings' filters use ranges only on numbers
(amounts, balances), where no collation enters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from storage.query import Filter


def row_matches(filters: Iterable[Filter], row: Mapping[str, Any]) -> bool:
    """Whether `row` (column name -> value; a missing column reads as NULL) satisfies every one of `filters`."""
    return all(_holds(flt, row) for flt in filters)


def _holds(flt: Filter, row: Mapping[str, Any]) -> bool:
    if flt.op == "either":
        return any(_holds(inner, row) for inner in flt.value)
    return any(_compare(flt, row.get(column)) for column in flt.columns)


def _compare(flt: Filter, value: Any) -> bool:
    op = flt.op
    if op == "is_null":
        return value is None
    if op == "not_null":
        return value is not None
    if op == "eq" and flt.value is None:
        return value is None
    if value is None:  # NULL = x, NULL IN (...), NULL >= x: unknown, so not a match
        return False
    if op == "eq":
        return bool(value == flt.value)
    if op == "in":
        return any(value == candidate for candidate in flt.value if candidate is not None)
    if op == "gte":
        return bool(value >= flt.value)
    if op == "lte":
        return bool(value <= flt.value)
    if op == "gt":
        return bool(value > flt.value)
    if op == "lt":
        return bool(value < flt.value)
    raise ValueError(f"unknown filter operator {op!r}")
