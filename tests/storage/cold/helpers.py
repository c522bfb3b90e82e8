"""A generic history table for the cold tier's own tests (storage must work for any processor's table), and
rows of it spanning a month boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import OrderKey
from storage.amounts import Amount
from storage.cold.store import ColdCredentials, ColdStore
from storage.hot_writes import write_rows
from storage.tables import UTCDateTime
from tests.servers import free_port

TENANT, OTHER = "cold-t", "cold-u"
MONTH_END = datetime(2026, 5, 31, 23, 59, 0, tzinfo=UTC)


def events_table() -> Table:
    return Table(
        "cold_test_events",
        MetaData(),
        Column("tenant_id", String(64), primary_key=True),
        Column("id", String(32), primary_key=True),
        Column("ledger_sequence", BigInteger, nullable=False),
        Column("closed_at", UTCDateTime, nullable=False),
        Column("from", String(56)),
        Column("to", String(56)),
        Column("asset", String(20), nullable=False),
        Column("amount_raw", Amount, nullable=False),
        Column("decimals", Integer),
        Column("ok", Boolean, nullable=False),
        Column("data", JSON),
        info={"kind": "history", "write": "insert"},
    )


def make_rows(tenant_id: str, ledgers: range, per_ledger: int = 3) -> list[dict[str, Any]]:
    """Rows 10 s apart per ledger from a minute before a month's end: the month changes mid-range."""
    rows = []
    for ledger in ledgers:
        for event in range(per_ledger):
            n = ledger * per_ledger + event
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "id": OrderKey(ledger, 1, 1, event).id,
                    "ledger_sequence": ledger,
                    "closed_at": MONTH_END + timedelta(seconds=10 * (ledger - ledgers.start)),
                    "from": f"G{n % 4}",
                    "to": None if n % 7 == 0 else f"G{(n + 1) % 4}",
                    "asset": "native" if n % 2 else "USDC:GA",
                    "amount_raw": (n * 10**30) * (-1 if n % 5 == 0 else 1),
                    "decimals": None if n % 3 == 0 else 7,
                    "ok": n % 6 != 0,
                    "data": {"n": n, "big": 2**80 + n, "list": [n, None]},
                }
            )
    return rows


async def create_events(engine: AsyncEngine, rows: list[dict[str, Any]]) -> Table:
    table = events_table()
    async with engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
        await write_rows(conn, table, rows)
    return table


async def hot_rows(engine: AsyncEngine, table: Table, tenant_id: str) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if c.name != "tenant_id"]
    async with engine.connect() as conn:
        result = await conn.execute(
            select(*columns).where(table.c.tenant_id == tenant_id).order_by(table.c.id)
        )
        return [dict(r) for r in result.mappings()]


def without_tenant(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "tenant_id"} for r in rows]


@pytest.fixture
async def events(engine: AsyncEngine) -> AsyncIterator[tuple[AsyncEngine, Table, list[dict[str, Any]]]]:
    rows = make_rows(TENANT, range(100, 120)) + make_rows(OTHER, range(100, 104))
    table = await create_events(engine, rows)
    yield engine, table, [r for r in rows if r["tenant_id"] == TENANT]


def unreachable_bucket() -> ColdStore:
    """An S3 store whose endpoint is a closed local port: every request fails at once."""
    return ColdStore.open(
        "s3://cold-bucket/root",
        ColdCredentials(
            endpoint=f"http://127.0.0.1:{free_port()}",
            region="us-east-1",
            access_key_id="k",
            secret_access_key="s",
            request_timeout=5,
        ),
    )
