"""`write_rows` on both backends: idempotent history inserts, "latest" upserts that never go backwards, exact
amounts, JSON and timestamps; on PostgreSQL the COPY path stores exactly what the multi-row INSERT stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Column, MetaData, String, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.amounts import Amount
from storage.db import create_engine
from storage.hot_writes import insert_values, write_rows, write_tables
from storage.tables import UTCDateTime

I128_MAX = 2**127 - 1
T0 = datetime(2026, 6, 19, 0, 20, 58, tzinfo=UTC)


def _table(metadata: MetaData, name: str, mode: str) -> Table:
    # Reserved words as column names ("from", "limit") and every column type the processors' tables use.
    return Table(
        name,
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("id", String(32), primary_key=True),
        Column("ledger_sequence", BigInteger, nullable=False),
        Column("closed_at", UTCDateTime, nullable=False),
        Column("from", String(56)),
        Column("limit", Amount),
        Column("amount", Amount),
        Column("flag", Boolean),
        Column("data", JSON),
        info={"write": mode},
    )


@pytest.fixture
async def tables(db_url: str) -> AsyncIterator[tuple[AsyncEngine, Table, Table]]:
    metadata = MetaData()
    history = _table(metadata, "hw_history", "insert")
    current = _table(metadata, "hw_current", "latest")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield engine, history, current
    finally:
        await engine.dispose()


def row(id_: str, ledger: int, **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tenant_id": "t",
        "id": id_,
        "ledger_sequence": ledger,
        "closed_at": T0 + timedelta(seconds=ledger),
        "from": "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU",
        "limit": I128_MAX,
        "amount": -(2**100),
        "flag": True,
        "data": {"topics": ["transfer", 1], "nested": {"a": None}},
    }
    base.update(values)
    return base


async def stored(engine: AsyncEngine, table: Table) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(table).order_by(table.c.id))
        return [dict(r) for r in result.mappings()]


async def test_history_rows_are_written_exactly_and_idempotently(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    engine, history, _ = tables
    rows = [
        row("a", 10),
        row("b", 10, amount=0, flag=False, data=[1, "x"]),
        row("c", 11, data=None, amount=None, **{"from": None}),
        {"tenant_id": "t", "id": "d", "ledger_sequence": 12, "closed_at": T0},  # missing columns are NULL
    ]
    async with engine.begin() as conn:
        await write_rows(conn, history, rows)
    first = await stored(engine, history)
    assert [r["id"] for r in first] == ["a", "b", "c", "d"]
    assert first[0] == row("a", 10)  # i128 amounts exact, aware UTC timestamps, JSON round trip
    assert first[1]["data"] == [1, "x"] and first[1]["amount"] == 0 and first[1]["flag"] is False
    assert first[3]["amount"] is None and first[3]["limit"] is None and first[3]["from"] is None
    # Writing again (twice in one transaction, with a changed value) changes nothing: history is never rewritten.
    async with engine.begin() as conn:
        await write_rows(conn, history, rows)
        await write_rows(conn, history, [row("a", 10, amount=5), row("e", 13)])
    again = await stored(engine, history)
    assert again[:4] == first and [r["id"] for r in again] == ["a", "b", "c", "d", "e"]


async def test_latest_rows_keep_the_last_state_and_never_go_backwards(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    engine, _, current = tables
    async with engine.begin() as conn:
        # Two states of "a" in one batch: the last one (in apply order) is kept.
        await write_rows(conn, current, [row("a", 10, amount=1), row("b", 10), row("a", 11, amount=2)])
    assert [(r["id"], r["amount"]) for r in await stored(engine, current)] == [("a", 2), ("b", -(2**100))]
    async with engine.begin() as conn:
        await write_rows(conn, current, [row("a", 9, amount=3)])  # an older ledger: ignored
        await write_rows(conn, current, [row("b", 10, amount=4, data=None)])  # the same ledger: replaces
        await write_rows(conn, current, [row("b", 12, amount=5)])  # twice in one transaction
    found = {r["id"]: r for r in await stored(engine, current)}
    assert found["a"]["amount"] == 2 and found["a"]["ledger_sequence"] == 11
    assert found["b"]["amount"] == 5 and found["b"]["ledger_sequence"] == 12


async def test_unknown_columns_are_refused(tables: tuple[AsyncEngine, Table, Table]) -> None:
    engine, history, _ = tables
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match="unknown columns: nope"):
            await write_rows(conn, history, [row("a", 1), {**row("b", 1), "nope": 1}])


async def test_a_rolled_back_batch_writes_nothing_and_the_next_one_works(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    # On PostgreSQL the first write of a session creates its staging table; a rollback drops it again.
    engine, history, current = tables
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await write_rows(conn, history, [row("a", 1)])
            await write_rows(conn, current, [row("a", 1)])
            raise RuntimeError("crash mid-batch")
    assert await stored(engine, history) == [] and await stored(engine, current) == []
    async with engine.begin() as conn:
        await write_rows(conn, history, [row("a", 1)])
        await write_rows(conn, current, [row("a", 1)])
    assert len(await stored(engine, history)) == 1 and len(await stored(engine, current)) == 1


async def test_several_tables_at_once_and_failures_while_a_table_moves(
    tables: tuple[AsyncEngine, Table, Table],
) -> None:
    # On PostgreSQL `write_tables` checks and converts the next table's rows while the previous table's rows move
    # (copy_writes.copy_tables): a failure of either leaves the connection usable and the transaction undone.
    engine, history, current = tables
    async with engine.begin() as conn:
        await write_tables(
            conn, [(history, [row("a", 1)]), (current, []), (current, [row("a", 1), row("a", 2)])]
        )
    assert [r["ledger_sequence"] for r in await stored(engine, current)] == [2]
    with pytest.raises(
        ValueError, match="unknown columns: nope"
    ):  # the second table's rows, while the first moves
        async with engine.begin() as conn:
            await write_tables(conn, [(history, [row("b", 3)]), (current, [{**row("b", 3), "nope": 1}])])
    with pytest.raises(
        Exception, match=r"(?i)null"
    ):  # the first table's move fails (NOT NULL), not its records
        async with engine.begin() as conn:
            await write_tables(conn, [(history, [row("c", 3, closed_at=None)]), (current, [row("c", 3)])])
    assert [r["id"] for r in await stored(engine, history)] == ["a"]
    assert [r["id"] for r in await stored(engine, current)] == ["a"]
    async with engine.begin() as conn:
        await write_tables(conn, [(history, [row("d", 4)]), (current, [row("d", 4)])])
    assert [r["id"] for r in await stored(engine, history)] == ["a", "d"]


async def test_copy_stores_what_the_multi_row_insert_stores(pg_url: str) -> None:
    metadata = MetaData()
    pairs = [
        (_table(metadata, "hw_copy_h", "insert"), _table(metadata, "hw_values_h", "insert")),
        (_table(metadata, "hw_copy_c", "latest"), _table(metadata, "hw_values_c", "latest")),
    ]
    # JSON of every shape (objects, lists, text, wide integers, floats, null); amounts as ints, and in a few rows
    # as text, a Decimal or NULL (the COPY path stages amounts as text: an int's digits, anything else through
    # the bind processor first); times in UTC, in another zone and naive (staged as naive UTC times).
    data = [None, {"i": 0, "s": "é\u2028"}, 'text "q"\n', [1, 2**70, 1.5, True, {"k": []}]]
    rows = [
        row(
            f"r{i}",
            10 + i % 3,
            amount=None if i == 8 else (-1) ** i * 7**i,
            data=data[i % 4],
            **({"limit": str(7 * i)} if i == 5 else {}),
            **({"limit": Decimal(-(2**90))} if i == 6 else {}),
            **(
                {"closed_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5)))}
                if i == 9
                else {}
            ),
        )
        for i in range(40)
    ] + [{"tenant_id": "u", "id": "sparse", "ledger_sequence": 1, "closed_at": datetime(2020, 1, 1)}]
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.begin() as conn:
            for copied, inserted in pairs:
                # The COPY path, both ways it builds records: rows holding every column, and a sparse row.
                await write_rows(conn, copied, rows[:-1])
                await write_rows(conn, copied, rows[-1:])
                await insert_values(conn, inserted, rows, latest=copied.info["write"] == "latest")
        async with engine.connect() as conn:
            for copied, inserted in pairs:
                # Raw text of every column (JSON as stored, amounts, timestamps), not values decoded back.
                query = "SELECT {cols} FROM {table} ORDER BY tenant_id, id"
                cols = ", ".join(f'"{c.name}"::text' for c in copied.columns)
                a = (await conn.execute(text(query.format(cols=cols, table=copied.name)))).all()
                b = (await conn.execute(text(query.format(cols=cols, table=inserted.name)))).all()
                assert len(a) == len(rows) and a == b
    finally:
        await engine.dispose()


async def test_copy_path_refuses_autocommit_connections(pg_url: str) -> None:
    """COPY into an ON COMMIT DELETE ROWS staging table outside a transaction would store nothing, silently."""
    from storage.copy_writes import copy_rows

    metadata = MetaData()
    history = _table(metadata, "hw_auto", "insert")
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            with pytest.raises(RuntimeError, match="needs a transaction"):
                await copy_rows(auto, history, [row("a", 1)], on_conflict="ignore")
        assert await stored(engine, history) == []
    finally:
        await engine.dispose()
