"""The extractor against a direct walk of the raw XDR, on every Soroban ledger of the corpus."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.ids import OrderKey
from processors.contract_data.instances import INSTANCE_KEY_TYPE
from tests.processors.contract_data import (
    MAINNET_20,
    OTHER_SOROBAN,
    CorpusLedger,
    as_walked,
    corpus_ledgers,
)

# Minutes long (the load-test ledgers decoded):
# started first under pytest-xdist, see tests/parallel.py `order_files`.
pytestmark = pytest.mark.heavy(128)
FILES = MAINNET_20 + OTHER_SOROBAN


@pytest.mark.parametrize("file", FILES)
def test_every_contract_data_change_appears_once(shared_ledgers: Path, file: str) -> None:
    for ledger in corpus_ledgers(shared_ledgers, file):
        walked = list(ledger.walk.changes)
        extracted = [as_walked(row) for row in ledger.rows]
        # Same changes, each exactly once, in application order, with the same kind, key, value and TTL.
        assert extracted == walked, (file, ledger.index)
        moves = [
            (m["transaction_index"], m["operation_index"], m["key_hash"], m["live_until_ledger"])
            for m in ledger.moves
        ]
        assert moves == [
            (m.transaction_index, m.operation_index, m.key_hash, m.live_until_ledger)
            for m in ledger.walk.moves
        ]


def test_the_corpus_has_what_these_tests_rely_on(shared_ledgers: Path) -> None:
    kinds: Counter[str] = Counter()
    moves = 0
    for file in FILES:
        for ledger in corpus_ledgers(shared_ledgers, file):
            kinds.update(change.change for change in ledger.walk.changes)
            moves += len(ledger.walk.moves)
    # Created, updated, removed (57500008) and restored (stellar-rpc v25) changes, and TTL moves; no
    # evictions (tested on a built ledger in test_synthetic).
    assert kinds["created"] and kinds["updated"] and kinds["removed"] and kinds["restored"]
    assert kinds["evicted"] == 0
    assert moves >= 2


@pytest.mark.parametrize("file", FILES)
def test_ids_are_unique_and_in_order(shared_ledgers: Path, file: str) -> None:
    for ledger in corpus_ledgers(shared_ledgers, file):
        keys = [_order(row) for row in ledger.rows + ledger.moves]
        assert len(set(keys)) == len(keys)
        assert [_order(row) for row in ledger.rows] == sorted(_order(row) for row in ledger.rows)
        for row in ledger.rows:
            assert row["id"] == OrderKey(*_order(row)).id
            assert row["ledger_sequence"] == ledger.walk.sequence
            assert row["deleted"] == (row["change"] in ("removed", "evicted"))


def _order(row: dict[str, Any]) -> tuple[int, int, int, int]:
    return (row["ledger_sequence"], row["transaction_index"], row["operation_index"], row["event_index"])


def test_decoded_keys_values_and_symbols(shared_ledgers: Path) -> None:
    rows = [
        row for file in MAINNET_20 for ledger in corpus_ledgers(shared_ledgers, file) for row in ledger.rows
    ]
    balances = [row for row in rows if row["key_symbol"] == "Balance"]
    assert balances
    for row in balances:
        # SAC balances: key ["Balance", holder], value {amount, authorized, clawback} (REFERENCE §4).
        assert row["key_type"] == "vec" and row["key"][0] == "Balance"
        assert row["key"][1][0] in "GC"
        if set(row["value"]) == {"amount", "authorized", "clawback"}:
            assert isinstance(row["value"]["amount"], str) and row["value"]["amount"].lstrip("-").isdigit()
    symbols = {row["key_symbol"] for row in rows} - {None}
    assert {"Balance", "Pail", "Block", "PoolData"} <= symbols
    for row in rows:
        if row["key_type"] == "symbol":
            assert row["key_symbol"] == row["key"]
        assert row["durability"] in ("persistent", "temporary")


def test_contract_instances_carry_their_wasm_hash(shared_ledgers: Path) -> None:
    instances = [
        row
        for file in FILES
        for ledger in corpus_ledgers(shared_ledgers, file)
        for row in ledger.rows
        if row["key_type"] == INSTANCE_KEY_TYPE
    ]
    assert len(instances) > 100
    for row in instances:
        assert row["key"] == "ledger_key_contract_instance" and row["key_symbol"] is None
        assert row["durability"] == "persistent"
        assert row["instance_wasm_hash"] == row["value"]["executable"]["wasm"]
        assert row["instance_asset"] is None  # the corpus changes no Stellar Asset Contract instance


def test_live_until_ledger_comes_from_the_ttl_entry(shared_ledgers: Path) -> None:
    ledger: CorpusLedger
    created = 0
    for file in MAINNET_20:
        for ledger in corpus_ledgers(shared_ledgers, file):
            for row in ledger.rows:
                if row["change"] == "created":
                    # A new entry is created with its TTL entry, in the same operation.
                    created += 1
                    assert row["live_until_ledger"] > ledger.walk.sequence
    assert created > 100
