"""`storage.derived.replace_rows` on both backends (COPY and one moving statement on PostgreSQL, one prepared
upsert per row on SQLite): a stored row is replaced whole whatever its ledger, a new one inserted, rows of the
batch with the same key leave the last one, exact amounts and NULLs kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table, select

from storage.amounts import Amount
from storage.db import create_engine
from storage.derived import replace_rows
from storage.tables import UTCDateTime

T0 = datetime(2026, 6, 19, 0, 20, 58, tzinfo=UTC)


def _candles(metadata: MetaData) -> Table:
    return Table(
        "dr_candles",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("pair", String(140), primary_key=True),
        Column("bucket_start", UTCDateTime, primary_key=True),
        Column("open_n", Amount, nullable=True),
        Column("open", String(64), nullable=True),
        Column("base_volume", Amount, nullable=False),
        Column("ledger_sequence", BigInteger, nullable=False),
    )


def candle(pair: str, ledger: int, volume: int, open_n: int | None = 7) -> dict[str, Any]:
    return {
        "tenant_id": "t",
        "pair": pair,
        "bucket_start": T0,
        "open_n": open_n,
        "open": None if open_n is None else f"{open_n}.0",
        "base_volume": volume,
        "ledger_sequence": ledger,
    }


async def test_replace_rows_replaces_whole_rows_whatever_their_ledger(db_url: str) -> None:
    metadata = MetaData()
    table = _candles(metadata)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await replace_rows(conn, table, [candle("A/B", 5, 2**100), candle("C/D", 5, 1)])
        async with engine.begin() as conn:
            await replace_rows(
                conn,
                table,
                [
                    candle("A/B", 3, -(2**120), open_n=None),  # an older ledger still replaces (a rebuild)
                    candle("E/F", 6, 10**38),
                    candle("A/B", 4, 9, open_n=None),  # the same key again: the last one is kept
                ],
            )
            await replace_rows(conn, table, [])
        async with engine.connect() as conn:
            stored = [dict(r) for r in (await conn.execute(select(table).order_by(table.c.pair))).mappings()]
        assert stored == [
            candle("A/B", 4, 9, open_n=None),
            candle("C/D", 5, 1),
            candle("E/F", 6, 10**38),
        ]
    finally:
        await engine.dispose()
