"""The toolkit of derived state: what a processor's `after_write` needs to keep state derived from stored rows
(candles from trades, token sums from transfers, current storage from its history) inside the ingestion
transaction, on both backends with the same calls.

Processors say which rows with the generic filters of `storage.query` and their own tables; the SQL, and the
dialect differences (upserts, advisory locks), stay here:

- `lock`: serialise one kind of derived state of one tenant until the transaction ends (PostgreSQL advisory lock;
  SQLite has a single writer). Two ingestion transactions (the live tail and a backfill chunk) may touch the same
  derived rows: each reads what is committed and writes whole rows, so without the lock the later commit would
  drop the other's contribution. With it the second waits and, READ COMMITTED taking a fresh snapshot per
  statement, then reads the first one's committed rows.
- `fetch_keyed`, `fetch_matching`: read a tenant's rows by key, or by filters (chunked under the driver's bind
  parameter limit); `fetch_first`: the first matching row in one column's order (the nearest row in time).
- `replace_rows`: insert rows or replace every column of the stored ones with the same key.
- `upsert`: insert rows, or update the stored ones with expressions of the caller's, optionally only where a
  condition holds; `update_each`: one keyed update per row, in one batch.
- `update_matching`, `delete_matching`: change or remove a tenant's rows matching filters.
- `archived_through`: how far a tenant's history table has moved to the cold tier (its archive watermark):
  rows up to it are no longer (reliably) in the hot store, so state derived from them must not be re-derived
  from the hot rows alone (see `Processor.on_archive`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.cold.watermarks import Watermark, read_watermark
from storage.copy_writes import copy_rows
from storage.db import dialect_name
from storage.hot_query import condition
from storage.hot_writes import last_per_key
from storage.query import Filter, Row

__all__ = [
    "archived_through",
    "delete_matching",
    "fetch_first",
    "fetch_keyed",
    "fetch_matching",
    "lock",
    "replace_rows",
    "update_each",
    "update_matching",
    "upsert",
]

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_CHUNK = 2000  # values per statement: well under the driver's 32767 bind parameters


async def lock(conn: AsyncConnection, kind: str, tenant_id: str) -> None:
    """Hold the lock of `kind` for `tenant_id` until the transaction ends (see the module docstring)."""
    if dialect_name(conn) == "postgresql":
        digest = hashlib.blake2b(f"{kind}\x00{tenant_id}".encode(), digest_size=8).digest()
        await conn.execute(_LOCK, {"key": int.from_bytes(digest, "big", signed=True)})  # signed 64-bit keys


async def archived_through(conn: AsyncConnection, tenant_id: str, table: Table) -> Watermark | None:
    """The archive watermark of the tenant's history `table` (its last archived row), or None."""
    return await read_watermark(conn, tenant_id, table.name)


def _where(table: Table, tenant_id: str, filters: Sequence[Filter]) -> ColumnElement[bool]:
    return and_(table.c.tenant_id == tenant_id, *(condition(table, f) for f in filters))


async def fetch_matching(
    conn: AsyncConnection,
    table: Table,
    tenant_id: str,
    filters: Sequence[Filter] = (),
    *,
    columns: Sequence[str] | None = None,
) -> list[Row]:
    """The tenant's rows of `table` matching every filter (all columns but the tenant, or `columns`)."""
    chosen = (
        [table.c[name] for name in columns]
        if columns
        else [c for c in table.columns if c.name != "tenant_id"]
    )
    result = await conn.execute(select(*chosen).where(_where(table, tenant_id, filters)))
    # Each row (a tuple) zipped with the names in C: `dict(row)` of each `RowMapping` cost ~2x as much, and candle
    # upkeep reads ~1,000 rows a batch (issue 16).
    names = tuple(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]


async def fetch_first(
    conn: AsyncConnection,
    table: Table,
    tenant_id: str,
    filters: Sequence[Filter],
    order_by: str,
    *,
    descending: bool = False,
    columns: Sequence[str],
) -> Row | None:
    """The tenant's first row of `table` matching every filter in `order_by` order (`columns` of it), or None."""
    column = table.c[order_by]
    first = (
        select(*(table.c[name] for name in columns))
        .where(_where(table, tenant_id, filters))
        .order_by(column.desc() if descending else column)
        .limit(1)
    )
    row = (await conn.execute(first)).mappings().first()
    return dict(row) if row is not None else None


async def fetch_keyed(
    conn: AsyncConnection,
    table: Table,
    tenant_id: str,
    key: Sequence[str],
    wanted: Collection[tuple[Any, ...]],
) -> dict[tuple[Any, ...], Row]:
    """The tenant's stored rows whose `key` columns hold one of the `wanted` tuples, by tuple (missing ones are
    absent). Reads the rows matching each key column's values, then keeps the exact tuples (the product of the
    columns' values may hold a few more)."""
    found: dict[tuple[Any, ...], Row] = {}
    if not wanted:
        return found
    targets = set(wanted)
    ordered = list(targets)  # any order: reads only (values need not even be comparable)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        filters = [Filter.any_of(name, list({t[i] for t in chunk})) for i, name in enumerate(key)]
        for row in await fetch_matching(conn, table, tenant_id, filters):
            value = tuple(row[name] for name in key)
            if value in targets:
                found[value] = row
    return found


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert)(table)


async def replace_rows(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert each row, or replace every column of the stored one with the same primary key (of rows with the
    same key, the last one). Needs a transaction on PostgreSQL."""
    if not rows:
        return
    if dialect_name(conn) == "postgresql":
        # COPY and one INSERT ... SELECT instead of one prepared INSERT bound per row: a batch's candles went
        # through SQLAlchemy's per-row parameters and asyncpg's binary NUMERIC encoder (ten amounts a candle),
        # ~50 us a row in the ingesting process (issue 16, docs/decisions.md "write16").
        key = [c.name for c in table.primary_key.columns]
        await copy_rows(conn, table, last_per_key(rows, key), on_conflict="replace")
        return
    await upsert(conn, table, rows, lambda new: {c.name: new[c.name] for c in table.columns})


async def upsert(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    updates: Callable[[Any], Mapping[str, Any]],
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> None:
    """Insert `rows`; a row whose primary key is stored updates that row with ``updates(new)``: the new value of
    each column to change (key columns left out), an expression of ``new`` (the rejected row) and of the stored
    columns; only where ``where(new)`` holds, when given."""
    if not rows:
        return
    statement = _insert(conn, table)
    new = statement.excluded
    key = {column.name for column in table.primary_key.columns}
    changes = {name: value for name, value in updates(new).items() if name not in key}
    statement = statement.on_conflict_do_update(
        index_elements=sorted(key, key=[c.name for c in table.columns].index),
        set_=changes,
        where=where(new) if where is not None else None,
    )
    await conn.execute(statement, list(rows))


async def update_matching(
    conn: AsyncConnection, table: Table, tenant_id: str, filters: Sequence[Filter], values: Mapping[str, Any]
) -> None:
    """Set `values` on the tenant's rows matching every filter."""
    await conn.execute(update(table).where(_where(table, tenant_id, filters)).values(**values))


async def update_each(
    conn: AsyncConnection,
    table: Table,
    tenant_id: str,
    match: Mapping[str, str],
    values: Mapping[str, str],
    rows: Sequence[Mapping[str, Any]],
    *,
    not_after: tuple[str, str] | None = None,
) -> None:
    """One update per row of `rows` (executed as a batch): the tenant's stored row whose columns `match` (column ->
    key of the row) equal the row's values gets `values` (column -> key of the row). With ``not_after=(column,
    key)``, only a stored row whose column is at most the row's value is changed (never move state backwards)."""
    if not rows:
        return

    # Bind names differ from column names: SQLAlchemy reserves a column's own name in UPDATE ... VALUES.
    def bind(column: str, key: str) -> Any:
        return bindparam(f"b_{key}", type_=table.c[column].type)

    conditions = [table.c.tenant_id == bindparam("b__tenant")]
    conditions += [table.c[column] == bind(column, key) for column, key in match.items()]
    if not_after is not None:
        conditions.append(table.c[not_after[0]] <= bind(*not_after))
    statement = (
        update(table).where(*conditions).values({column: bind(column, key) for column, key in values.items()})
    )
    keys = {*match.values(), *values.values(), *([not_after[1]] if not_after else [])}
    await conn.execute(
        statement, [{"b__tenant": tenant_id, **{f"b_{k}": row[k] for k in keys}} for row in rows]
    )


async def delete_matching(
    conn: AsyncConnection, table: Table, tenant_id: str, filters: Sequence[Filter]
) -> None:
    """Remove the tenant's rows matching every filter."""
    await conn.execute(delete(table).where(_where(table, tenant_id, filters)))
