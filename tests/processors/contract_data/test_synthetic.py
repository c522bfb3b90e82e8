"""Evictions, Stellar Asset Contract instances, removals and TTL moves, on built ledgers (`builders`)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import insert

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants, process_ledger
from ledgers.view import LedgerView
from processors.contract_data import processor
from processors.contract_data.extract import LEDGER_LEVEL
from processors.contract_data.instances import INSTANCE_KEY_TYPE
from processors.contract_data.table import contract_data_current
from processors.registry import default_registry
from storage.db import create_engine
from tests.processors.contract_data import as_walked, decode, snapshot, walk_ledger
from tests.processors.contract_data.builders import (
    ALLOWANCE,
    ALLOWANCE_TTL,
    ALLOWANCE_VALUE,
    EURC_BALANCE,
    INSTANCE_TTL,
    INSTANCES,
    PASSPHRASE,
    POSITION,
    POSITION_TTL_1003,
    USDC_BALANCE,
    USDC_BALANCE_TTL_1004,
    scenario,
)


def extracted(raw: bytes) -> dict[str, list[dict[str, Any]]]:
    assert processor.extract is not None
    result: dict[str, list[dict[str, Any]]] = processor.extract(LedgerView.from_xdr(raw, PASSPHRASE))
    return result


def b64(value: Any) -> str:
    return base64.b64encode(value.to_xdr_bytes()).decode()


@pytest.mark.parametrize("position", [0, 1, 2])
def test_built_ledgers_agree_with_the_xdr_walk(position: int) -> None:
    raw = scenario()[position]
    rows = extracted(raw)
    walk = walk_ledger(decode(raw))
    assert [as_walked(row) for row in rows["contract_data"]] == list(walk.changes)
    assert [
        (m["transaction_index"], m["key_hash"], m["live_until_ledger"])
        for m in rows["contract_data_ttl_updates"]
    ] == [(m.transaction_index, m.key_hash, m.live_until_ledger) for m in walk.moves]


def test_instances_name_their_wasm_or_verified_asset() -> None:
    rows = [row for row in extracted(scenario()[1])["contract_data"] if row["key_type"] == INSTANCE_KEY_TYPE]
    assert {row["contract_id"]: (row["instance_wasm_hash"], row["instance_asset"]) for row in rows} == {
        contract: (wasm, asset) for contract, (_, wasm, asset) in INSTANCES.items()
    }
    for row in rows:
        assert (row["change"], row["live_until_ledger"], row["key_symbol"]) == ("created", INSTANCE_TTL, None)


def test_ttl_move_resolved_within_the_ledger() -> None:
    out = extracted(scenario()[1])
    (move,) = out["contract_data_ttl_updates"]
    # Position's data changes in an earlier transaction of the same ledger: the move knows its key.
    assert move["key_hash"] == POSITION.hash.hex() and move["live_until_ledger"] == POSITION_TTL_1003
    assert (move["contract_id"], move["key_symbol"], move["key_type"]) == (
        POSITION.contract,
        "Position",
        "vec",
    )
    allowance = next(row for row in out["contract_data"] if row["key_hash"] == ALLOWANCE.hash.hex())
    assert (allowance["durability"], allowance["live_until_ledger"]) == ("temporary", ALLOWANCE_TTL)


def test_removal_and_eviction_rows() -> None:
    out = extracted(scenario()[2])
    removal, eviction = out["contract_data"]
    # A removal carries the entry as it was, from the `state` before it.
    assert (removal["change"], removal["deleted"], removal["live_until_ledger"]) == ("removed", True, None)
    assert (removal["key_symbol"], removal["value_xdr"]) == ("Allowance", b64(ALLOWANCE_VALUE))
    # The eviction is ledger-level, after every transaction, and only the data key is a row (not its TTL).
    assert eviction["change"] == "evicted" and eviction["deleted"] is True
    assert (eviction["transaction_index"], eviction["operation_index"], eviction["event_index"]) == (
        LEDGER_LEVEL,
        0,
        0,
    )
    assert (eviction["tx_hash"], eviction["in_successful_tx"]) == (None, True)
    assert (eviction["contract_id"], eviction["key_hash"], eviction["durability"]) == (
        EURC_BALANCE.contract,
        EURC_BALANCE.hash.hex(),
        "persistent",
    )
    assert eviction["key"] is eviction["key_xdr"] is eviction["value_xdr"] is None
    assert eviction["id"] > removal["id"]
    (move,) = out["contract_data_ttl_updates"]  # the USDC balance's TTL alone: its key is not known here
    assert (move["key_hash"], move["contract_id"]) == (USDC_BALANCE.hash.hex(), None)


TENANTS = tuple(
    parse_tenant_config(
        {
            "customer": {
                "id": tenant_id,
                "name": tenant_id,
                "network": "pubnet",
                "processors": [{"type": "ContractDataProcessor", "enabled": True, "config": config}],
            }
        },
        default_registry().catalogue(),
    )
    for tenant_id, config in (
        ("all", {}),
        ("all-in-one-batch", {}),
        ("balances", {"key_symbols": ["Balance"]}),
        ("no-instances", {"include_instances": False}),
    )
)


async def test_built_ledgers_into_both_backends(migrated_db_url: str) -> None:
    """PostgreSQL and SQLite (the embedded mode) alike: current storage's SQL is written once for both."""
    ledgers = scenario()
    plans = plan_tenants(TENANTS, default_registry().catalogue(), Network.pubnet)
    split = [plan for plan in plans if plan.tenant_id != "all-in-one-batch"]
    whole = [plan for plan in plans if plan.tenant_id == "all-in-one-batch"]
    engine = create_engine(migrated_db_url)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=split)
        for raw in ledgers:  # one batch per ledger: the 1004 TTL move lands on a stored row
            await ingest.write_batch([process_ledger(raw, PASSPHRASE, split)])
        await IngestEngine(engine, Network.pubnet, plans=whole).write_batch(
            [process_ledger(raw, PASSPHRASE, whole) for raw in ledgers]
        )
        stored = await snapshot(engine)
        assert stored["contract_data_ttl_updates"] == []
        current: dict[str, dict[str, dict[str, Any]]] = {}
        for row in stored["contract_data_current"]:
            current.setdefault(row["tenant_id"], {})[row["key_hash"]] = row

        everything = current["all"]
        usdc = everything[USDC_BALANCE.hash.hex()]
        assert (usdc["change"], usdc["last_change_ledger"]) == ("updated", 1003)
        assert (usdc["live_until_ledger"], usdc["ledger_sequence"]) == (USDC_BALANCE_TTL_1004, 1004)
        position = everything[POSITION.hash.hex()]
        assert (position["live_until_ledger"], position["ledger_sequence"]) == (POSITION_TTL_1003, 1003)
        eurc = everything[EURC_BALANCE.hash.hex()]
        assert (eurc["change"], eurc["deleted"], eurc["last_change_ledger"]) == ("evicted", True, 1004)
        assert eurc["key_symbol"] == "Balance" and eurc["key_xdr"] == b64(EURC_BALANCE.key)
        assert eurc["value_xdr"] is not None  # the last known value stays
        allowance = everything[ALLOWANCE.hash.hex()]
        assert (allowance["change"], allowance["deleted"]) == ("removed", True)
        assert allowance["value_xdr"] == b64(ALLOWANCE_VALUE)
        for contract, (_, wasm, asset) in INSTANCES.items():
            instance = next(
                r
                for r in everything.values()
                if r["contract_id"] == contract and r["key_type"] == INSTANCE_KEY_TYPE
            )
            assert (instance["instance_wasm_hash"], instance["instance_asset"]) == (wasm, asset)

        # Batching does not matter: one batch of the three ledgers gives the same current storage.
        def without_tenant(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {key: {k: v for k, v in row.items() if k != "tenant_id"} for key, row in rows.items()}

        assert without_tenant(current["all-in-one-batch"]) == without_tenant(everything)

        # A key filter cannot see the evicted key (the ledger does not show it): the balance stays as it was,
        # while the TTL move, matched by key hash, still reaches the tenant's row.
        balances = current["balances"]
        assert {row["key_symbol"] for row in balances.values()} == {"Balance"}
        assert balances[EURC_BALANCE.hash.hex()]["change"] == "updated"
        assert balances[USDC_BALANCE.hash.hex()]["live_until_ledger"] == USDC_BALANCE_TTL_1004
        assert all(row["key_type"] != INSTANCE_KEY_TYPE for row in current["no-instances"].values())
        assert EURC_BALANCE.hash.hex() in current["no-instances"]

        # Re-ingesting everything, or only the oldest ledger, changes nothing.
        await ingest.write_batch([process_ledger(raw, PASSPHRASE, split) for raw in ledgers])
        await ingest.write_batch([process_ledger(ledgers[0], PASSPHRASE, split)])
        assert await snapshot(engine) == stored
    finally:
        await engine.dispose()


async def test_a_move_never_creates_a_row_nor_moves_a_newer_one(migrated_pg: str) -> None:
    ledgers = scenario()
    plans = plan_tenants(TENANTS[:1], default_registry().catalogue(), Network.pubnet)
    engine = create_engine(migrated_pg)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        # Only 1004: its TTL move names the USDC balance, which the tenant does not hold yet.
        await ingest.write_batch([process_ledger(ledgers[2], PASSPHRASE, plans)])
        stored = await snapshot(engine)
        assert USDC_BALANCE.hash.hex() not in {row["key_hash"] for row in stored["contract_data_current"]}
        # A row written at a later ledger is not moved by the older move when 1004 is ingested again.
        newer = {**stored["contract_data_current"][0]}
        newer.update(
            key_hash=USDC_BALANCE.hash.hex(),
            contract_id=USDC_BALANCE.contract,
            ledger_sequence=2000,
            live_until_ledger=5000,
        )
        async with engine.begin() as conn:
            await conn.execute(insert(contract_data_current), [newer])
        await ingest.write_batch([process_ledger(ledgers[2], PASSPHRASE, plans)])
        after = {row["key_hash"]: row for row in (await snapshot(engine))["contract_data_current"]}
        assert after[USDC_BALANCE.hash.hex()]["live_until_ledger"] == 5000
    finally:
        await engine.dispose()
