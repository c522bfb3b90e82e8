"""Token transfer rows through the ingestion engine into a real migrated database, exactly and idempotently."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import row_id
from core.settings import NETWORK_PASSPHRASES, Network
from ingest.engine import IngestEngine, TenantPlan, process_ledger
from processors.token_transfers import processor
from processors.token_transfers.config import TokenTransferConfig
from processors.token_transfers.table import token_transfers
from storage.db import create_engine
from storage.hot_writes import write_rows
from tests import corpus

LEDGER = "wallet-backend/ledger-57500008.xdr.gz"
I128_MAX = 2**127 - 1


async def stored(engine: AsyncEngine, tenant_id: str) -> list[dict[str, Any]]:
    query = sql_select(token_transfers).where(token_transfers.c.tenant_id == tenant_id).order_by("id")
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def test_engine_writes_rows_exactly_and_idempotently(shared_ledgers: Path, migrated_pg: str) -> None:
    raw = gzip.decompress((shared_ledgers / LEDGER).read_bytes())
    everything = TokenTransferConfig(include_failed_txs=True, track_memos=True)
    big_only = TokenTransferConfig(min_amount="100000000000")  # 10,000 units and up, no memos
    plans = [
        TenantPlan("all", ((processor, everything),)),
        TenantPlan("big", ((processor, big_only),)),
    ]
    passphrase = NETWORK_PASSPHRASES[Network.pubnet]
    engine = create_engine(migrated_pg)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        result = process_ledger(raw, passphrase, plans)
        # The project's decoder gives what stellar-sdk's decoding of the session gives (tests/corpus.py).
        assert result == corpus.tenant_results(shared_ledgers, [LEDGER], plans)[0]
        expected = {
            tenant: sorted(result.rows[tenant]["token_transfers"]["token_transfers"], key=lambda r: r["id"])
            for tenant in ("all", "big")
        }
        assert len(expected["all"]) > len(expected["big"]) > 0
        await ingest.write_batch([result])
        first = {tenant: await stored(engine, tenant) for tenant in expected}
        assert first == expected  # every column, amount_raw as an exact int
        await ingest.write_batch([process_ledger(raw, passphrase, plans)])
        assert {tenant: await stored(engine, tenant) for tenant in expected} == first
    finally:
        await engine.dispose()


def hand_row(amount: int, event_index: int) -> dict[str, Any]:
    """A custom-token transfer row with an amount beyond 64 bits (the corpus tops out at ~2**54)."""
    token = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"
    return {
        "tenant_id": "t",
        "id": row_id(63092983, 5, 1, event_index),
        "ledger_sequence": 63092983,
        "transaction_index": 5,
        "operation_index": 1,
        "event_index": event_index,
        "closed_at": datetime(2026, 6, 19, 0, 20, 58, tzinfo=UTC),
        "tx_hash": "ab" * 32,
        "in_successful_tx": True,
        "event_type": "transfer",
        "from": "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU",
        "to": token,
        "asset": token,
        "asset_type": "contract",
        "asset_code": None,
        "asset_issuer": None,
        "contract_id": token,
        "amount_raw": amount,
        "amount": str(amount),
        "decimals": None,
        "to_muxed_id": None,
        "memo": None,
        "memo_type": None,
    }


async def test_i128_amounts_round_trip(migrated_db_url: str) -> None:
    # No amount in the corpus passes 2**63, so these rows are written by hand, on both backends.
    amounts = [I128_MAX, -I128_MAX, 2**63, -(2**63) - 1, 2**64 + 7]
    rows = [hand_row(amount, i) for i, amount in enumerate(amounts)]
    engine = create_engine(migrated_db_url)
    try:
        async with engine.begin() as conn:
            await write_rows(conn, token_transfers, rows)
            await write_rows(conn, token_transfers, rows)  # idempotent
        back = await stored(engine, "t")
        assert [r["amount_raw"] for r in back] == amounts
        assert all(type(r["amount_raw"]) is int for r in back)
        assert back == rows
        # Filters on the amount compare exactly, beyond 64 bits too.
        query = sql_select(token_transfers.c.amount_raw).where(token_transfers.c.amount_raw >= 2**63)
        async with engine.connect() as conn:
            found = sorted(v for (v,) in (await conn.execute(query)).all())
        assert found == sorted(a for a in amounts if a >= 2**63)
    finally:
        await engine.dispose()
