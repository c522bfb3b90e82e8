# mypy: disable-error-code="union-attr"
"""Contract data through the ingestion engine into a real, migrated PostgreSQL database.

The 20 consecutive mainnet ledgers are ingested for three tenants with different filters. Current storage must
equal the last state of each key (checked against the direct XDR walk, and against each tenant's own history),
a TTL change without a data change must move ``live_until_ledger`` of a key the tenant already holds,
re-ingesting must change nothing, and re-ingesting an older ledger must not move current rows backwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy import select as sql_select

from core.ids import row_id
from core.settings import NETWORK_PASSPHRASES, Network
from core.tenant_config import TenantConfig, parse_tenant_config
from ingest.engine import IngestEngine, LedgerResult, TenantPlan, plan_tenants, process_ledger
from processors.contract_data.table import contract_data_current
from processors.registry import default_registry
from storage.db import create_engine
from tests import corpus
from tests.processors.contract_data import (
    LEDGER_LEVEL_TX,
    MAINNET_20,
    corpus_ledgers,
    snapshot,
)

PASSPHRASE = NETWORK_PASSPHRASES[Network.pubnet]
MOVE_LEDGER = "wallet-backend/ledger-63092989.xdr.gz"  # an instance TTL bumped by a call, data untouched
COMPARED = (
    "contract_id",
    "change",
    "durability",
    "key_xdr",
    "value_xdr",
    "deleted",
    "live_until_ledger",
    "last_change_ledger",
    "ledger_sequence",
)


def tenant(tenant_id: str, config: dict[str, Any]) -> TenantConfig:
    document = {
        "customer": {
            "id": tenant_id,
            "name": tenant_id.title(),
            "network": "pubnet",
            "processors": [{"type": "ContractDataProcessor", "enabled": True, "config": config}],
        }
    }
    return parse_tenant_config(document, default_registry().catalogue())


TENANTS = (
    tenant("all", {}),
    tenant("balances", {"key_symbols": ["Balance"]}),
    tenant("persistent-data", {"durability": ["persistent"], "include_instances": False}),
)


def moved_instance(root: Path) -> tuple[str, str, str, int]:
    """(contract id, key hash, key XDR, new live_until) of the TTL move of `MOVE_LEDGER`, its key found in the
    calling transaction's footprint (the TTL entry names only the hash)."""
    (ledger,) = corpus_ledgers(root, MOVE_LEDGER)
    (move,) = ledger.walk.moves
    assert move.key_hash in ledger.walk.moved_keys, "the moved key is in no footprint"
    contract, key_xdr = ledger.walk.moved_keys[move.key_hash]
    return contract, move.key_hash, key_xdr, move.live_until_ledger


def process(root: Path, files: Sequence[str], plans: list[TenantPlan]) -> list[LedgerResult]:
    return [process_ledger(corpus.raw_ledger(root, file), PASSPHRASE, plans) for file in files]


def seeded_row(root: Path) -> dict[str, Any]:
    """The instance's current row as a tenant ingesting since before the 20 ledgers would hold it."""
    contract, key_hash, key_xdr, _ = moved_instance(root)
    return {
        "tenant_id": "all",
        "contract_id": contract,
        "key_hash": key_hash,
        "change": "updated",
        "key": "ledger_key_contract_instance",
        "key_xdr": key_xdr,
        "key_type": "ledger_key_contract_instance",
        "key_symbol": None,
        "durability": "persistent",
        "value": {"executable": {"wasm": "00" * 32}, "storage": None},
        "value_xdr": "seeded",
        "instance_wasm_hash": "00" * 32,
        "instance_asset": None,
        "live_until_ledger": 63_100_000,
        "deleted": False,
        "last_change_id": row_id(63_000_000, 1, 1, 0),
        "last_change_ledger": 63_000_000,
        "ledger_sequence": 63_000_000,
        "closed_at": datetime(2026, 6, 10, tzinfo=UTC),
    }


def expected_from_walk(root: Path, seeded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Current storage by key hash, folded from the direct XDR walk of the 20 ledgers."""
    state: dict[str, dict[str, Any]] = {seeded["key_hash"]: {name: seeded[name] for name in COMPARED}}

    def order(tx: int) -> int:
        return (1 << 20) if tx == LEDGER_LEVEL_TX else tx

    for file in MAINNET_20:
        (ledger,) = corpus_ledgers(root, file)
        walk = ledger.walk
        items: list[tuple[tuple[int, int], Any]] = [
            ((order(c.transaction_index), c.operation_index), c) for c in walk.changes
        ]
        items += [((order(m.transaction_index), m.operation_index), m) for m in walk.moves]
        items.sort(key=lambda item: item[0])  # stable: a list's changes before its moves (other keys)
        for _, item in items:
            previous = state.get(item.key_hash)
            if hasattr(item, "change"):
                state[item.key_hash] = {
                    "contract_id": item.contract_id,
                    "change": item.change,
                    "durability": item.durability,
                    "key_xdr": item.key_xdr or (previous or {}).get("key_xdr"),
                    "value_xdr": item.value_xdr or (previous or {}).get("value_xdr"),
                    "deleted": item.change in ("removed", "evicted"),
                    "live_until_ledger": item.live_until_ledger or (previous or {}).get("live_until_ledger"),
                    "last_change_ledger": walk.sequence,
                    "ledger_sequence": walk.sequence,
                }
            elif previous is not None:
                previous["live_until_ledger"] = item.live_until_ledger
                previous["ledger_sequence"] = walk.sequence
    return state


def fold_history(history: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The last state of each key in one tenant's stored history (no TTL moves: those are not history)."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(history, key=lambda r: r["id"]):
        key = (row["contract_id"], row["key_hash"])
        previous = state.get(key, {})
        live_until = row["live_until_ledger"] or previous.get("live_until_ledger")
        state[key] = {**row, "live_until_ledger": live_until}
    return state


async def test_current_storage_after_the_20_ledgers(shared_ledgers: Path, migrated_pg: str) -> None:
    plans = plan_tenants(TENANTS, default_registry().catalogue(), Network.pubnet)
    seeded = seeded_row(shared_ledgers)
    engine = create_engine(migrated_pg)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(contract_data_current), [seeded])
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        results = corpus.tenant_results(shared_ledgers, MAINNET_20, plans)  # the session's decoding
        await ingest.write_batch(results[:7], checkpoint="test:contract_data")
        await ingest.write_batch(results[7:], checkpoint="test:contract_data")
        stored = await snapshot(engine)

        assert stored["contract_data_ttl_updates"] == []  # staging is empty between batches
        current = {t: [r for r in stored["contract_data_current"] if r["tenant_id"] == t] for t in ("all",)}
        history = stored["contract_data"]

        # Tenant "all": current storage equals the fold of the raw XDR, the seeded instance included.
        expected = expected_from_walk(shared_ledgers, seeded)
        got = {row["key_hash"]: {name: row[name] for name in COMPARED} for row in current["all"]}
        assert got == expected
        _, key_hash, _, live_until = moved_instance(shared_ledgers)
        moved = got[key_hash]
        assert (moved["live_until_ledger"], moved["ledger_sequence"]) == (live_until, 63092989)
        assert (moved["value_xdr"], moved["last_change_ledger"]) == ("seeded", 63_000_000)

        # Every tenant: current storage is the last state of each key of its own history.
        for tenant_id in ("all", "balances", "persistent-data"):
            own = [row for row in history if row["tenant_id"] == tenant_id]
            rows = {
                (row["contract_id"], row["key_hash"]): row
                for row in stored["contract_data_current"]
                if row["tenant_id"] == tenant_id and row["key_hash"] != key_hash
            }
            folded = fold_history(own)
            assert rows.keys() == folded.keys(), tenant_id
            for key, row in rows.items():
                last = folded[key]
                assert row["last_change_id"] == last["id"]
                for name in ("change", "key", "key_xdr", "key_symbol", "value", "value_xdr", "deleted"):
                    assert row[name] == last[name], (tenant_id, name)
                assert row["live_until_ledger"] == last["live_until_ledger"]
        balances = [row for row in history if row["tenant_id"] == "balances"]
        assert balances and {row["key_symbol"] for row in balances} == {"Balance"}
        persistent = [row for row in history if row["tenant_id"] == "persistent-data"]
        assert persistent and {row["durability"] for row in persistent} == {"persistent"}
        assert all(row["key_type"] != "ledger_key_contract_instance" for row in persistent)

        # The same ledgers again, in one batch: nothing changes (decoded and extracted anew by `process_ledger`
        # itself, so that an extraction that is not deterministic shows up too).
        await ingest.write_batch(process(shared_ledgers, MAINNET_20, plans))
        assert await snapshot(engine) == stored

        # An older ledger again: current rows do not move back (keys of 63092982 change again later).
        (oldest,) = corpus_ledgers(shared_ledgers, MAINNET_20[0])
        later = {row["key_hash"] for row in current["all"] if row["last_change_ledger"] > 63092982}
        assert later & {row["key_hash"] for row in oldest.rows}
        await ingest.write_batch(process(shared_ledgers, MAINNET_20[:1], plans))
        assert await snapshot(engine) == stored
        async with engine.connect() as conn:
            count = await conn.scalar(sql_select(func.count()).select_from(contract_data_current))
        assert count == len(stored["contract_data_current"]) > 100
    finally:
        await engine.dispose()
