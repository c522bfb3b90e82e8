"""Query objects and pages: what the API layers hand to the query router, and what they get back.

DESIGN "Query": a GraphQL resolver or a REST route turns its arguments into a frozen `Query` (a tenant's rows
of one table, filters, time and ledger ranges, a cursor position, a limit, a direction) and calls
`storage.router.QueryRouter.fetch`. Only `storage/` turns a `Query` into SQL (or, for cold data, DuckDB), so the
two APIs return the same rows for the same filters by construction.

Filters are generic (`Filter`: a column or several, an operator, a value) so that storage needs no knowledge of
any processor; each processor's `query.py` translates its own filter parameters into them.

Positions: rows are read in keyset order. For a history table the key is the row `id` (it sorts as the order
key); for a current-state table it is the table's primary key without the tenant. A position is the key of the
last row seen, as text (`position_of`), and a cursor is that position wrapped with a fingerprint of the query's
filters (`core.ids.encode_cursor`), so a cursor replayed with other filters is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import Integer, Table

from core.ids import (
    OrderKey,
    canonical_json,
    decode_cursor,
    encode_cursor,
    filters_fingerprint,
    invalid_cursor,
)
from core.validation import unstorable_text
from storage.tables import UTCDateTime

Row = dict[str, Any]
"""A row as storage reads and writes it: column name -> value (tenant id excepted on reads)."""
FilterOp = Literal["eq", "in", "gte", "lte", "lt", "gt", "is_null", "not_null", "either"]
MAX_LIMIT = 200  # the largest page any API may ask for (REST's `limit`; GraphQL caps `first` lower)


@dataclass(frozen=True)
class Filter:
    """`columns` (any of them, OR'ed) compared with `value` by `op`; filters of a query are AND'ed.

    `in` takes a tuple; `is_null` / `not_null` take no value; `either` takes a tuple of filters, any of which
    holds (`Filter.either`). Amount columns compare exactly (storage/amounts).
    """

    columns: tuple[str, ...]
    op: FilterOp
    value: Any = None

    @classmethod
    def eq(cls, column: str, value: Any) -> Filter:
        return cls((column,), "eq", value)

    @classmethod
    def any_of(cls, column: str | tuple[str, ...], values: Sequence[Any]) -> Filter:
        columns = (column,) if isinstance(column, str) else column
        return cls(columns, "in", tuple(values))

    @classmethod
    def either(cls, *filters: Filter) -> Filter:
        """Rows any of `filters` holds for."""
        return cls((), "either", tuple(filters))

    def describe(self) -> list[Any]:
        if self.op == "either":
            return ["either", [f.describe() for f in self.value]]
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return [list(self.columns), self.op, value]


@dataclass(frozen=True)
class Query:
    """A tenant's rows of one table. `after` is an exclusive position (see `position_of`) in the direction of
    the read: ascending reads rows after it, descending rows before it. Relay's `last`/`before` is a read in the
    other direction, reversed by the caller."""

    tenant_id: str
    table: Table
    filters: tuple[Filter, ...] = ()
    from_time: datetime | None = None
    to_time: datetime | None = None
    from_ledger: int | None = None
    to_ledger: int | None = None
    time_column: str = "closed_at"
    after: str | None = None
    limit: int = 10
    descending: bool = False

    def __post_init__(self) -> None:
        if self.time_column not in self.table.c:
            raise ValueError(f"{self.table.name} has no column {self.time_column!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1-{MAX_LIMIT}, got {self.limit}")

    @property
    def fingerprint(self) -> str:
        """What a cursor of this query is bound to: the table, filters and ranges (not the direction, so a
        position can be paged from either side)."""
        return filters_fingerprint(
            {
                "table": self.table.name,
                "filters": sorted((f.describe() for f in self.filters), key=canonical_json),
                "time_column": self.time_column,
                "from_time": self.from_time.isoformat() if self.from_time else None,
                "to_time": self.to_time.isoformat() if self.to_time else None,
                "from_ledger": self.from_ledger,
                "to_ledger": self.to_ledger,
            }
        )

    def resume(self, cursor: str, parameter: str = "cursor") -> Query:
        """This query continuing after `cursor` (a client's: checked for this query's fingerprint, and its
        position for this table's keys); a bad one is a 400 naming `parameter`."""
        position = decode_cursor(cursor, self.fingerprint, parameter=parameter)
        position_values(self.table, position, parameter)
        return self.replace(after=position)

    def cursor_for(self, row: Mapping[str, Any]) -> str:
        return encode_cursor(position_of(self.table, row), self.fingerprint)

    def replace(self, **changes: Any) -> Query:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Page:
    """Rows of one read (dicts of the table's columns without `tenant_id`, in read order), whether more rows
    follow in that direction, and which stores answered (`hot`, `cold`)."""

    query: Query
    rows: list[Row]
    has_more: bool
    sources: tuple[str, ...] = field(default=("hot",))

    @property
    def next_cursor(self) -> str | None:
        return self.query.cursor_for(self.rows[-1]) if self.has_more and self.rows else None

    def next_query(self) -> Query | None:
        """The query of the following page in the same direction (None after the last page): for callers that
        read on themselves, without a cursor's encode/decode round trip."""
        if not (self.has_more and self.rows):
            return None
        return self.query.replace(after=position_of(self.query.table, self.rows[-1]))

    def cursors(self) -> list[str]:
        return [self.query.cursor_for(row) for row in self.rows]


def keyset_columns(table: Table) -> tuple[str, ...]:
    """The columns a table's rows are ordered and paged by."""
    if table.info.get("kind") == "history":
        return ("id",)
    return tuple(c.name for c in table.primary_key.columns if c.name != "tenant_id")


def position_of(table: Table, row: Mapping[str, Any]) -> str:
    """The text position of `row` in `table`'s keyset order: the row id, or the JSON list of its key."""
    columns = keyset_columns(table)
    if columns == ("id",):
        return str(row["id"])
    return orjson.dumps([row[name] for name in columns]).decode()


def _position_value(column: Any, value: Any, parameter: str) -> Any:
    """A key value from a decoded cursor, checked against its column's type: a cursor is only base64, so its
    content is client input like any other."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        if not isinstance(value, str):
            raise invalid_cursor(parameter)
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() != timedelta(0):  # ours are UTC; another offset could leave the calendar
            raise invalid_cursor(parameter)
        return moment
    if isinstance(kind, Integer):  # BigInteger too
        if not isinstance(value, int) or isinstance(value, bool) or not -(2**63) <= value < 2**63:
            raise invalid_cursor(parameter)
        return value
    if not isinstance(value, str) or unstorable_text(value) is not None or len(value) > 1000:
        raise invalid_cursor(parameter)
    return value


def position_values(table: Table, position: str, parameter: str = "cursor") -> list[Any]:
    """The key values of a position (`position_of`) in `table`'s keyset order; a position no row of the table
    can have is a 400 ``invalid_cursor`` naming `parameter`."""
    columns = keyset_columns(table)
    if columns == ("id",):
        try:
            OrderKey.from_id(position)
        except ValueError as exc:
            raise invalid_cursor(parameter) from exc
        return [position]
    try:
        values = orjson.loads(position)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong shape")
        return [_position_value(table.c[name], v, parameter) for name, v in zip(columns, values, strict=True)]
    except (ValueError, TypeError) as exc:
        raise invalid_cursor(parameter) from exc
