"""`Query` -> SQL on the hot store (PostgreSQL or SQLite), with SQLAlchemy Core.

A page is one indexed keyset read: `WHERE tenant AND filters AND key > :position ORDER BY key LIMIT n + 1`
(the extra row tells whether more follow). A count is capped, so a tenant with millions of rows never pays for
an exact total it did not need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.query import Filter, Query, keyset_columns, position_values


def condition(table: Table, flt: Filter) -> ColumnElement[bool]:
    """The SQL condition of one generic filter on `table`."""
    if flt.op == "either":
        return or_(*(condition(table, inner) for inner in flt.value))

    def one(name: str) -> ColumnElement[bool]:
        column = table.c[name]
        if flt.op == "eq":
            return column.is_(None) if flt.value is None else column == flt.value
        if flt.op == "in":
            return column.in_(list(flt.value)) if flt.value else false()
        if flt.op == "gte":
            return column >= flt.value
        if flt.op == "lte":
            return column <= flt.value
        if flt.op == "lt":
            return column < flt.value
        if flt.op == "gt":
            return column > flt.value
        if flt.op == "is_null":
            return column.is_(None)
        if flt.op == "not_null":
            return column.is_not(None)
        raise ValueError(f"unknown filter operator {flt.op!r}")

    return or_(*(one(name) for name in flt.columns))


def _where(table: Table, query: Query) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [table.c.tenant_id == query.tenant_id]
    conditions.extend(condition(table, f) for f in query.filters)
    if query.from_time is not None:
        conditions.append(table.c[query.time_column] >= query.from_time)
    if query.to_time is not None:
        conditions.append(table.c[query.time_column] <= query.to_time)
    if query.from_ledger is not None:
        conditions.append(table.c.ledger_sequence >= query.from_ledger)
    if query.to_ledger is not None:
        conditions.append(table.c.ledger_sequence <= query.to_ledger)
    return conditions


def page_statement(query: Query) -> Select[Any]:
    table = query.table
    keys = keyset_columns(table)
    conditions = _where(table, query)
    if query.after is not None:
        values = position_values(table, query.after)
        if len(keys) == 1:
            key: ColumnElement[Any] = table.c[keys[0]]
            position: ColumnElement[Any] = literal(values[0], type_=table.c[keys[0]].type)
        else:  # a row-value comparison; typed binds so timestamps and amounts encode as stored
            key = tuple_(*(table.c[k] for k in keys))
            position = tuple_(*(literal(v, type_=table.c[k].type) for k, v in zip(keys, values, strict=True)))
        conditions.append(key < position if query.descending else key > position)
    order = [table.c[k].desc() if query.descending else table.c[k].asc() for k in keys]
    columns = [c for c in table.columns if c.name != "tenant_id"]
    return select(*columns).where(and_(true(), *conditions)).order_by(*order).limit(query.limit + 1)


async def fetch_page(conn: AsyncConnection, query: Query) -> tuple[list[dict[str, Any]], bool]:
    result = await conn.execute(page_statement(query))
    rows = [dict(row) for row in result.mappings()]
    return rows[: query.limit], len(rows) > query.limit


async def count_rows(conn: AsyncConnection, query: Query, cap: int) -> tuple[int, bool]:
    """How many rows the query matches (ignoring its position and limit), up to `cap`; the flag says the count
    is exact (False: at least `cap` rows match)."""
    table = query.table
    inner = select(table.c.tenant_id).where(and_(true(), *_where(table, query))).limit(cap + 1).subquery()
    counted = int((await conn.execute(select(func.count()).select_from(inner))).scalar_one())
    return min(counted, cap), counted <= cap


async def lookup_rows(
    conn: AsyncConnection,
    tenant_id: str,
    table: Table,
    column: str,
    values: Sequence[Any],
    filters: Sequence[Filter] = (),
    *,
    per_key: int,
) -> dict[Any, list[dict[str, Any]]]:
    """The first `per_key` rows (in keyset order) whose `column` equals each of `values`, grouped by value: one
    statement for a whole batch of keys (what dataloaders need)."""
    grouped: dict[Any, list[dict[str, Any]]] = {value: [] for value in values}
    if not values:
        return grouped
    conditions = [table.c.tenant_id == tenant_id, table.c[column].in_(list(dict.fromkeys(values)))]
    conditions.extend(condition(table, f) for f in filters)
    columns = [c for c in table.columns if c.name != "tenant_id"]
    order = [table.c[k] for k in keyset_columns(table)]
    # The first `per_key` rows of each value, by a window function: one statement, and never more rows than
    # the caller shows (a token contract's storage holds a row per holder).
    rank = func.row_number().over(partition_by=table.c[column], order_by=order).label("_rank")
    ranked = select(*columns, rank).where(*conditions).subquery()
    statement = (
        select(*(ranked.c[c.name] for c in columns))
        .where(ranked.c._rank <= per_key)
        .order_by(ranked.c[column], ranked.c._rank)
    )
    for row in (await conn.execute(statement)).mappings():
        grouped.setdefault(row[column], []).append(dict(row))
    return grouped
