"""Token balances through the ingestion engine into a real, migrated PostgreSQL database (20 mainnet ledgers).

- exact balances (native, trustline, Stellar Asset Contract) equal the account balance processor's current rows;
- each custom token balance equals the sum of the tenant's stored transfers of that token for that holder;
- re-ingesting (an older ledger, then everything) changes nothing;
- a custom token's sums turn exact once the tenant's ingestion has seen the token's creation.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Network
from ingest.engine import IngestEngine
from processors.account_balances.table import account_balances_current
from processors.token_balances import processor
from processors.token_balances.config import TokenBalanceConfig
from processors.token_balances.table import token_balances
from processors.token_transfers.table import token_transfers
from storage.db import create_engine
from tests.processors.account_balances import USDC, mainnet_results, plans

TENANT = "everything"
Key = tuple[str, str]


async def rows_of(engine: AsyncEngine, table: Any, tenant_id: str) -> list[dict[str, Any]]:
    query = sql_select(table).where(table.c.tenant_id == tenant_id).order_by(*table.primary_key.columns)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


def transfer_sums(transfers: list[dict[str, Any]]) -> dict[Key, int]:
    sums: dict[Key, int] = defaultdict(int)
    for row in transfers:
        if row["asset_type"] == "contract" and row["in_successful_tx"]:
            if row["to"] is not None:
                sums[(row["to"], row["asset"])] += row["amount_raw"]
            if row["from"] is not None:
                sums[(row["from"], row["asset"])] -= row["amount_raw"]
    return sums


async def test_token_balances_after_twenty_ledgers(shared_ledgers: Path, migrated_pg: str) -> None:
    results = mainnet_results(shared_ledgers)
    engine = create_engine(migrated_pg)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        for start in range(0, len(results), 5):
            await ingest.write_batch(results[start : start + 5])
        balances = await rows_of(engine, token_balances, TENANT)
        exact = {(r["account_id"], r["asset"]): r for r in balances if r["source"] != "transfers"}
        custom = {(r["account_id"], r["asset"]): r for r in balances if r["source"] == "transfers"}

        # Exact balances are the account balance processor's current rows (claimable balances and pool
        # shares aside: neither is an account's holding of an asset).
        current = {
            (r["account_id"], r["asset"]): r
            for r in await rows_of(engine, account_balances_current, TENANT)
            if r["source"] != "claimable_balance" and not r["asset"].startswith("pool_share:")
        }
        assert exact.keys() == current.keys() and len(exact) > 1000
        for key, row in exact.items():
            mirror = current[key]
            assert row["exact"] is True
            for name in (
                "balance_raw",
                "balance",
                "source",
                "deleted",
                "last_modified_ledger",
                "ledger_sequence",
            ):
                assert row[name] == mirror[name], (key, name)

        # Custom tokens: the sum of the stored transfers, for every holder they moved; not exact (the tokens
        # were created long before the tenant's first ledger).
        expected = transfer_sums(await rows_of(engine, token_transfers, TENANT))
        assert custom and {key: r["balance_raw"] for key, r in custom.items()} == expected
        assert all(r["exact"] is False and r["balance"] == str(r["balance_raw"]) for r in custom.values())

        # The USDC-only tenant has USDC exact balances and no custom tokens.
        whales = await rows_of(engine, token_balances, "usdc-whales")
        assert whales and {r["asset"] for r in whales} == {USDC}

        # Re-ingesting an older ledger, then everything, changes nothing.
        await ingest.write_batch(results[3:4])
        assert await rows_of(engine, token_balances, TENANT) == balances
        await ingest.write_batch(list(results))
        assert await rows_of(engine, token_balances, TENANT) == balances

        # The tenant's ingestion sees one token's creation (as a backfill reaching back to it would): its sums
        # become exact, the others' stay estimates, and they stay so when the token moves again.
        token = sorted({asset for _, asset in custom})[0]
        created = {
            "tenant_id": TENANT,
            "contract_id": token,
            "created_ledger": 60_000_000,
            "ledger_sequence": 60_000_000,
            "closed_at": results[0].closed_at,
        }
        async with engine.begin() as conn:
            await conn.execute(processor.tables[1].insert(), [created])
            assert processor.after_write is not None
            await processor.after_write(
                conn, TENANT, {"token_balances": {"token_balances_tokens": [created]}}, TokenBalanceConfig()
            )
        await ingest.write_batch(list(results))
        after = {(r["account_id"], r["asset"]): r for r in await rows_of(engine, token_balances, TENANT)}
        for key, row in custom.items():
            assert after[key]["exact"] is (key[1] == token)
            assert after[key]["balance_raw"] == row["balance_raw"]
    finally:
        await engine.dispose()
