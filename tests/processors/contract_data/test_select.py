"""The tenant filter: each kind of filter alone, combined, and the rules for unknown keys (evictions, moves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.contract_data.config import ContractDataConfig
from processors.contract_data.instances import INSTANCE_KEY_TYPE
from processors.contract_data.select import select
from tests.processors.contract_data import corpus_ledgers

LEDGER = "wallet-backend/ledger-57500008.xdr.gz"  # instances, Balance/Pail/Block keys, removals
CONTRACT_A = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
CONTRACT_B = "CCW67TSZV3SSS2HXMBQ5JFGCKJNXKZM7UQUWUZPUTHXSTZLEO7SJMI75"


@pytest.fixture
def rows(shared_ledgers: Path) -> dict[str, list[dict[str, Any]]]:
    (ledger,) = corpus_ledgers(shared_ledgers, LEDGER)
    return {"contract_data": list(ledger.rows), "contract_data_ttl_updates": list(ledger.moves)}


def kept(rows: dict[str, list[dict[str, Any]]], **config: Any) -> list[dict[str, Any]]:
    return select(rows, ContractDataConfig(**config))["contract_data"]


def test_default_config_keeps_everything_without_copying_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
    out = select(rows, ContractDataConfig())
    assert out == rows
    assert all(a is b for a, b in zip(out["contract_data"], rows["contract_data"], strict=True))


def test_contracts(rows: dict[str, list[dict[str, Any]]]) -> None:
    contract = rows["contract_data"][0]["contract_id"]
    out = kept(rows, contracts=[contract])
    assert out and {row["contract_id"] for row in out} == {contract}
    assert len(out) == sum(row["contract_id"] == contract for row in rows["contract_data"])


def test_key_symbols_match_symbol_keys_and_first_symbol_of_vectors(
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    out = kept(rows, key_symbols=["Balance", "Pail"])
    assert {row["key_symbol"] for row in out} == {"Balance", "Pail"}
    assert all(row["key"][0] in ("Balance", "Pail") for row in out if row["key_type"] == "vec")
    assert len(out) == sum(row["key_symbol"] in ("Balance", "Pail") for row in rows["contract_data"])


def test_durability(rows: dict[str, list[dict[str, Any]]]) -> None:
    for durability in ("persistent", "temporary"):
        out = kept(rows, durability=[durability])
        assert out and {row["durability"] for row in out} == {durability}
    assert len(kept(rows, durability=["persistent", "temporary"])) == len(rows["contract_data"])


def test_include_instances(rows: dict[str, list[dict[str, Any]]]) -> None:
    instances = [row for row in rows["contract_data"] if row["key_type"] == INSTANCE_KEY_TYPE]
    assert instances
    out = kept(rows, include_instances=False)
    assert len(out) == len(rows["contract_data"]) - len(instances)
    assert all(row["key_type"] != INSTANCE_KEY_TYPE for row in out)


def test_kinds_combine_with_and(rows: dict[str, list[dict[str, Any]]]) -> None:
    out = kept(rows, key_symbols=["Balance"], durability=["temporary"])
    expected = [
        r for r in rows["contract_data"] if r["key_symbol"] == "Balance" and r["durability"] == "temporary"
    ]
    assert out == expected


def evicted(contract: str, durability: str = "temporary") -> dict[str, Any]:
    return {
        "contract_id": contract,
        "durability": durability,
        "key_type": None,
        "key_symbol": None,
        "change": "evicted",
    }


def move(**known: Any) -> dict[str, Any]:
    return {"contract_id": None, "durability": None, "key_type": None, "key_symbol": None} | known


def test_evictions_are_kept_only_when_known_to_match() -> None:
    rows = {"contract_data": [evicted(CONTRACT_A), evicted(CONTRACT_B, "persistent")]}
    assert len(kept(rows)) == 2
    assert kept(rows, contracts=[CONTRACT_A]) == [rows["contract_data"][0]]
    assert kept(rows, durability=["persistent"]) == [rows["contract_data"][1]]
    # The key of an evicted entry is unknown: it cannot be shown to match a key filter.
    assert kept(rows, key_symbols=["Balance"]) == []
    assert kept(rows, include_instances=False) == []


def test_ttl_moves_are_dropped_only_when_known_not_to_match() -> None:
    unknown = move()
    balance_a = move(contract_id=CONTRACT_A, durability="persistent", key_type="vec", key_symbol="Balance")
    instance_b = move(contract_id=CONTRACT_B, durability="persistent", key_type=INSTANCE_KEY_TYPE)
    evicted_b = move(contract_id=CONTRACT_B, durability="temporary")  # contract known, key not
    rows = {"contract_data_ttl_updates": [unknown, balance_a, instance_b, evicted_b]}

    def moves(**config: Any) -> list[dict[str, Any]]:
        return select(rows, ContractDataConfig(**config))["contract_data_ttl_updates"]

    assert moves(contracts=[CONTRACT_A]) == [unknown, balance_a]
    assert moves(key_symbols=["Balance"]) == [unknown, balance_a, evicted_b]
    assert moves(durability=["temporary"]) == [unknown, evicted_b]
    assert moves(include_instances=False) == [unknown, balance_a, evicted_b]


def test_select_does_not_mutate_its_input(rows: dict[str, list[dict[str, Any]]]) -> None:
    before = {table: [dict(row) for row in table_rows] for table, table_rows in rows.items()}
    select(rows, ContractDataConfig(key_symbols=["Balance"], include_instances=False))
    assert rows == before
