"""Contract events through the ingestion engine into a real, migrated PostgreSQL database.

The 20 mainnet ledgers are ingested for two tenants with different filters, then ingested again: the second
run must change nothing (idempotent writes on the natural key, deterministic extraction).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import NETWORK_PASSPHRASES, Network
from core.tenant_config import TenantConfig, parse_tenant_config
from ingest.engine import IngestEngine, LedgerResult, TenantPlan, plan_tenants, process_ledger
from processors.contract_events.table import contract_events
from processors.registry import default_registry
from storage.db import create_engine
from tests import corpus
from tests.processors.contract_events import MAINNET_20

NATIVE_SAC = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
PASSPHRASE = NETWORK_PASSPHRASES[Network.pubnet]


def tenant(tenant_id: str, config: dict[str, Any]) -> TenantConfig:
    document = {
        "customer": {
            "id": tenant_id,
            "name": tenant_id.title(),
            "network": "pubnet",
            "processors": [{"type": "ContractEventProcessor", "enabled": True, "config": config}],
        }
    }
    return parse_tenant_config(document, default_registry().catalogue())


TENANTS = (
    tenant("mint-watch", {"event_types": ["mint", "burn"]}),
    tenant(
        "xlm-desk",
        {
            "contracts": [NATIVE_SAC],
            "topics": [["transfer", "*", "*", "native"]],
            "include_diagnostics": True,
        },
    ),
)


def plans() -> list[TenantPlan]:
    return plan_tenants(TENANTS, default_registry().catalogue(), Network.pubnet)


def ingest_again(root: Path) -> list[LedgerResult]:
    """`process_ledger` itself on the raw ledgers: decoded and extracted anew, so that an extraction that is
    not deterministic shows up as a change."""
    return [process_ledger(corpus.raw_ledger(root, file), PASSPHRASE, plans()) for file in MAINNET_20]


async def stored_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    table = contract_events
    query = sql_select(table).order_by(
        table.c.tenant_id,
        table.c.ledger_sequence,
        table.c.transaction_index,
        table.c.operation_index,
        table.c.event_index,
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def test_two_tenants_ingested_twice_into_postgresql(shared_ledgers: Path, migrated_pg: str) -> None:
    engine = create_engine(migrated_pg)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        first = corpus.tenant_results(shared_ledgers, MAINNET_20, plans())  # the session's decoding
        await ingest.write_batch(first[:10], checkpoint="test:contract_events")
        await ingest.write_batch(first[10:], checkpoint="test:contract_events")
        stored = await stored_rows(engine)

        # Exactly what the engine produced per tenant, and the two tenants' filters made different sets.
        produced = {
            tenant_id: [
                row
                for result in first
                for row in result.rows[tenant_id]["contract_events"]["contract_events"]
            ]
            for tenant_id in ("mint-watch", "xlm-desk")
        }
        by_tenant: dict[str, list[dict[str, Any]]] = {"mint-watch": [], "xlm-desk": []}
        for row in stored:
            by_tenant[row["tenant_id"]].append(row)
        for tenant_id, rows in by_tenant.items():
            assert rows == produced[tenant_id], tenant_id
        mints = by_tenant["mint-watch"]
        assert {row["event_type"] for row in mints} == {"mint", "burn"}
        assert sum(row["event_type"] == "mint" for row in mints) == 143  # corpus README: 143 mints
        xlm = by_tenant["xlm-desk"]
        assert {row["contract_id"] for row in xlm} == {NATIVE_SAC}
        assert {(row["event_type"], row["topic3"]) for row in xlm} == {("transfer", "native")}
        assert {row["id"] for row in mints}.isdisjoint(row["id"] for row in xlm)

        # The same ledgers again: nothing changes.
        again = ingest_again(shared_ledgers)
        await ingest.write_batch(again, checkpoint="test:contract_events")
        assert await stored_rows(engine) == stored
        async with engine.connect() as conn:
            count = await conn.scalar(sql_select(func.count()).select_from(contract_events))
        assert count == len(stored) == len(mints) + len(xlm)
    finally:
        await engine.dispose()
