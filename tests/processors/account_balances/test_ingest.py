"""Account balances through the ingestion engine into a real, migrated PostgreSQL database.

After the 20 consecutive mainnet ledgers, the current table holds exactly the last history row of every holder
and asset; re-ingesting an older ledger moves nothing backwards, and re-ingesting everything changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Network
from ingest.engine import IngestEngine
from processors.account_balances.table import account_balances, account_balances_current
from storage.db import create_engine
from tests.processors.account_balances import USDC, mainnet_results, plans

TENANTS = ("everything", "usdc-whales")
MIN_BALANCE = 10_000_000_000


async def table_rows(engine: AsyncEngine, table: Any) -> list[dict[str, Any]]:
    query = sql_select(table).order_by(*table.primary_key.columns)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


def last_history_rows(history: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in sorted(history, key=lambda r: (r["ledger_sequence"], r["event_index"])):
        latest[(row["tenant_id"], row["account_id"], row["asset"])] = row
    return latest


async def test_current_table_is_the_last_history_row(shared_ledgers: Path, migrated_pg: str) -> None:
    results = mainnet_results(shared_ledgers)
    engine = create_engine(migrated_pg)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        await ingest.write_batch(results[:10])
        await ingest.write_batch(results[10:])
        history = await table_rows(engine, account_balances)
        current = await table_rows(engine, account_balances_current)

        produced = [
            row
            for result in results
            for tenant in TENANTS
            for row in result.rows[tenant]["account_balances"]["account_balances"]
        ]
        assert len(history) == len(produced)
        latest = last_history_rows(history)
        columns = [c.name for c in account_balances_current.columns]
        assert {(r["tenant_id"], r["account_id"], r["asset"]): r for r in current} == {
            key: {name: row[name] for name in columns} for key, row in latest.items()
        }
        by_tenant = {tenant: [r for r in current if r["tenant_id"] == tenant] for tenant in TENANTS}
        assert {r["source"] for r in by_tenant["everything"]} == {
            "account",
            "trustline",
            "claimable_balance",
            "contract",
        }
        assert any(r["deleted"] for r in by_tenant["everything"])
        whales = by_tenant["usdc-whales"]
        assert whales and {r["asset"] for r in whales} == {USDC}
        # min_balance (1,000 USDC): kept while above it, or on the change that crossed below, or deleted.
        for key, row in latest.items():
            if key[0] == "usdc-whales":
                assert (
                    max(row["balance_raw"], row["previous_balance_raw"] or 0) >= MIN_BALANCE or row["deleted"]
                )

        # An older ledger again: its (older) states must not replace the newer current rows.
        await ingest.write_batch(results[:1])
        assert await table_rows(engine, account_balances_current) == current
        assert await table_rows(engine, account_balances) == history
        # Everything again: nothing changes.
        await ingest.write_batch(list(results))
        assert await table_rows(engine, account_balances_current) == current
        assert await table_rows(engine, account_balances) == history
    finally:
        await engine.dispose()
