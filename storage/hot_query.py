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
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.query import Filter, Query, keyset_columns, position_values


def condition(table: Table, flt: Filter, name: str | None = None) -> ColumnElement[bool]:
    """The SQL condition of one generic filter on `table`: its values inline, or with `name` the bind parameters
    `_filter_shape` names (statements built once per shape, see below)."""
    if flt.op == "either":
        return or_(
            *(
                condition(table, inner, None if name is None else f"{name}_{k}")
                for k, inner in enumerate(flt.value)
            )
        )

    def one(j: int, column_name: str) -> ColumnElement[bool]:
        column = table.c[column_name]
        value: Any = flt.value if name is None else bindparam(f"{name}c{j}")
        if flt.op == "eq":
            return column.is_(None) if flt.value is None else column == value
        if flt.op == "in":
            if not flt.value:
                return false()
            return column.in_(list(flt.value) if name is None else bindparam(f"{name}c{j}", expanding=True))
        if flt.op == "gte":
            return column >= value
        if flt.op == "lte":
            return column <= value
        if flt.op == "lt":
            return column < value
        if flt.op == "gt":
            return column > value
        if flt.op == "is_null":
            return column.is_(None)
        if flt.op == "not_null":
            return column.is_not(None)
        raise ValueError(f"unknown filter operator {flt.op!r}")

    return or_(*(one(j, column_name) for j, column_name in enumerate(flt.columns)))


# Pages and counts are built once per query *shape* (table, filter operators and columns, which ranges and
# whether a position are given, direction) with named bind parameters, and run with the request's values:
# building a statement and its SQLAlchemy cache key cost more than the rest of the read's Python. `_shape`
# walks a query's filters to the shape and the values; `condition(..., name)` builds the same walk's conditions with
# the same names, so the two always agree. Values bind as they did inline (the column's type, `in` expanding).
_STATEMENTS_CACHED = 2048
_pages: dict[tuple[Any, ...], Select[Any]] = {}
_counts: dict[tuple[Any, ...], Select[Any]] = {}


def _filter_shape(flt: Filter, name: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """The shape of one filter (what its SQL looks like), its values put in `params` under `name`."""
    if flt.op == "either":
        return ("either", tuple(_filter_shape(f, f"{name}_{k}", params) for k, f in enumerate(flt.value)))
    if flt.op in ("is_null", "not_null"):
        return (flt.columns, flt.op)
    if flt.op == "eq" and flt.value is None:
        return (flt.columns, "eq_null")
    if flt.op == "in" and not flt.value:
        return (flt.columns, "in_empty")
    if flt.op not in ("eq", "in", "gte", "lte", "lt", "gt"):
        raise ValueError(f"unknown filter operator {flt.op!r}")
    for j in range(len(flt.columns)):
        params[f"{name}c{j}"] = list(flt.value) if flt.op == "in" else flt.value
    return (flt.columns, flt.op)


_RANGES = (("from_time", ">="), ("to_time", "<="), ("from_ledger", ">="), ("to_ledger", "<="))


def _shape(query: Query) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The shape of the query's WHERE (filters and ranges, not its position) and its values."""
    params: dict[str, Any] = {"tenant_id": query.tenant_id}
    filters = tuple(_filter_shape(f, f"f{i}", params) for i, f in enumerate(query.filters))
    ranges = []
    for name, _ in _RANGES:
        value = getattr(query, name)
        if value is not None:
            params[name] = value
        ranges.append(value is not None)
    return (query.table, query.time_column, filters, tuple(ranges)), params


def _where(table: Table, query: Query) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [table.c.tenant_id == bindparam("tenant_id")]
    conditions.extend(condition(table, f, f"f{i}") for i, f in enumerate(query.filters))
    for name, op in _RANGES:
        if getattr(query, name) is None:
            continue
        column = table.c[query.time_column] if name.endswith("_time") else table.c.ledger_sequence
        conditions.append(column >= bindparam(name) if op == ">=" else column <= bindparam(name))
    return conditions


def _remember(
    cache: dict[tuple[Any, ...], Select[Any]], shape: tuple[Any, ...], statement: Select[Any]
) -> None:
    if len(cache) >= _STATEMENTS_CACHED:  # tenants' filters are few; a flood of shapes only rebuilds
        cache.clear()
    cache[shape] = statement


def page_statement(query: Query) -> tuple[Select[Any], dict[str, Any]]:
    """The page's statement (built once per shape) and the values to run it with."""
    table = query.table
    keys = keyset_columns(table)
    shape, params = _shape(query)
    shape = (*shape, query.after is not None, query.descending)
    params["limit"] = query.limit + 1
    if query.after is not None:
        for k, value in enumerate(position_values(table, query.after)):
            params[f"after{k}"] = value
    statement = _pages.get(shape)
    if statement is not None:
        return statement, params
    conditions = _where(table, query)
    if query.after is not None:
        # Typed binds, so timestamps and amounts encode as stored; a row-value comparison for several keys.
        position = [bindparam(f"after{k}", type_=table.c[name].type) for k, name in enumerate(keys)]
        if len(keys) == 1:
            key: ColumnElement[Any] = table.c[keys[0]]
            at: ColumnElement[Any] = position[0]
        else:
            key, at = tuple_(*(table.c[k] for k in keys)), tuple_(*position)
        conditions.append(key < at if query.descending else key > at)
    order = [table.c[k].desc() if query.descending else table.c[k].asc() for k in keys]
    columns = [c for c in table.columns if c.name != "tenant_id"]
    statement = (
        select(*columns)
        .where(and_(true(), *conditions))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
    )
    _remember(_pages, shape, statement)
    return statement, params


async def fetch_page(conn: AsyncConnection, query: Query) -> tuple[list[dict[str, Any]], bool]:
    statement, params = page_statement(query)
    result = await conn.execute(statement, params)
    rows = [dict(row) for row in result.mappings()]
    return rows[: query.limit], len(rows) > query.limit


async def count_rows(conn: AsyncConnection, query: Query, cap: int) -> tuple[int, bool]:
    """How many rows the query matches (ignoring its position and limit), up to `cap`; the flag says the count
    is exact (False: at least `cap` rows match)."""
    shape, params = _shape(query)
    params["cap"] = cap + 1
    statement = _counts.get(shape)
    if statement is None:
        table = query.table
        inner = (
            select(table.c.tenant_id)
            .where(and_(true(), *_where(table, query)))
            .limit(bindparam("cap", type_=Integer))
            .subquery()
        )
        statement = select(func.count()).select_from(inner)
        _remember(_counts, shape, statement)
    counted = int((await conn.execute(statement, params)).scalar_one())
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
