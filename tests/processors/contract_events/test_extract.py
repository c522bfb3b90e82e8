# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the walks read the arms the data holds.)
"""Extraction of contract events, checked against a direct walk of the XDR and the corpus summary.

The walk below reads stellar-sdk's decoded ``LedgerCloseMeta`` itself (not `LedgerView`), so a mistake in the
view layer or in the extractor shows up as a count difference.
"""

from __future__ import annotations

import base64
import importlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import xdr as x

from core.ids import row_id
from ledgers.scval import ScValue, scval_from_json
from processors.contract_events.table import contract_events
from tests.processors.contract_events import MAINNET_20, CorpusLedger, corpus_ledger

# The module (the package's `extract` is the function).
extract_module = importlib.import_module("processors.contract_events.extract")

OTHER_LEDGERS = (
    ("wallet-backend/ledger-51000294.xdr.gz", 0),  # protocol 20, LCM v1, meta v4
    ("wallet-backend/ledger-57500008.xdr.gz", 0),  # protocol 22, LCM v1, meta v4
    ("stellar-go/load-test/load-test-ledgers-v22.xdr.zstd", 0),  # protocol 22, meta v3 (Soroban meta events)
    ("stellar-rpc/load-test-ledgers-v25.xdr.zstd", 0),  # protocol 25, meta v4, 1,240 events
    ("stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd", 0),  # meta v3, diagnostics of failed txs only
)
COLUMNS = {column.name for column in contract_events.columns} - {"tenant_id"}
_SYMBOL_XDR = b"\x00\x00\x00\x0f"  # SCV_SYMBOL discriminant


def _non_diagnostic(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["type"] != "diagnostic"]


def _summary(root: Path) -> dict[tuple[str, int], dict[str, Any]]:
    ledgers = json.loads((root / "ledger_summary.json").read_text())["ledgers"]
    return {(entry["file"], entry["index"]): entry for entry in ledgers}


def _summary_topic0(rows: Iterable[dict[str, Any]]) -> Counter[str]:
    # ledger_summary.json counts operation-level events by topic 0 symbol, "?" for any other topic 0.
    counts: Counter[str] = Counter()
    for row in rows:
        is_symbol = row["topics_xdr"] and base64.b64decode(row["topics_xdr"][0])[:4] == _SYMBOL_XDR
        counts[row["topic0"] if is_symbol else "?"] += 1
    return counts


def _check_against_walk_and_summary(ledger: CorpusLedger, summary: dict[str, Any]) -> None:
    walk = ledger.walk
    events = _non_diagnostic(ledger.rows)
    assert Counter(row["event_type"] for row in events) == walk.topic0
    assert len(events) == walk.events
    assert sum(1 for row in ledger.rows if row["type"] == "diagnostic") == walk.diagnostic_kept
    assert _summary_topic0(events) == Counter(summary["event_topic0"])
    counted = summary["contract_events"]
    assert len(events) == counted.get("CONTRACT", 0) + counted.get("SYSTEM", 0)
    assert walk.diagnostic_total == counted.get("diagnostic", 0)


# -- counts ---------------------------------------------------------------------------------------------------
def test_mainnet_counts_by_topic0_equal_the_xdr_walk_and_the_summary(shared_ledgers: Path) -> None:
    summary = _summary(shared_ledgers)
    total: Counter[str | None] = Counter()
    for file in MAINNET_20:
        ledger = corpus_ledger(shared_ledgers, file)
        _check_against_walk_and_summary(ledger, summary[(file, 0)])
        total.update(row["event_type"] for row in _non_diagnostic(ledger.rows))
    # The corpus README's figures for the 20 ledgers: 7,440 contract events, 7,189 transfers, 143 mints.
    assert sum(total.values()) == 7440
    assert total["transfer"] == 7189
    assert total["mint"] == 143
    assert "fee" not in total  # transaction-level fee events belong to token transfers


@pytest.mark.parametrize(("file", "index"), OTHER_LEDGERS, ids=[f for f, _ in OTHER_LEDGERS])
def test_other_ledgers_equal_the_xdr_walk_and_the_summary(
    shared_ledgers: Path, file: str, index: int
) -> None:
    ledger = corpus_ledger(shared_ledgers, file, index)
    _check_against_walk_and_summary(ledger, _summary(shared_ledgers)[(file, index)])


def test_meta_v3_soroban_events_are_attributed_to_operation_1(shared_ledgers: Path) -> None:
    ledger = corpus_ledger(shared_ledgers, "stellar-go/load-test/load-test-ledgers-v22.xdr.zstd")
    events = _non_diagnostic(ledger.rows)
    assert len(events) == 1000
    assert {row["operation_index"] for row in events} == {1}
    assert {row["type"] for row in events} == {"contract"}


# -- row shape and ids ---------------------------------------------------------------------------------------
def test_ids_are_unique_and_rows_have_exactly_the_table_columns(shared_ledgers: Path) -> None:
    ids: set[str] = set()
    keys: set[tuple[int, int, int, int]] = set()
    count = 0
    for file in MAINNET_20:
        ledger = corpus_ledger(shared_ledgers, file)
        by_tx: dict[int, list[dict[str, Any]]] = {}
        for row in ledger.rows:
            assert set(row) == COLUMNS
            key = (
                row["ledger_sequence"],
                row["transaction_index"],
                row["operation_index"],
                row["event_index"],
            )
            assert row["id"] == row_id(*key)
            ids.add(row["id"])
            keys.add(key)
            count += 1
            by_tx.setdefault(row["transaction_index"], []).append(row)
        for rows in by_tx.values():
            # event_index counts the transaction's events from 0, operation after operation.
            assert [row["event_index"] for row in rows] == list(range(len(rows)))
            ops = [row["operation_index"] for row in rows if row["type"] != "diagnostic"]
            assert ops == sorted(ops)
    assert len(ids) == len(keys) == count


def test_row_values(shared_ledgers: Path) -> None:
    ledger = corpus_ledger(shared_ledgers, MAINNET_20[0])
    row = ledger.rows[0]
    assert row["ledger_sequence"] == ledger.sequence == 63092982
    assert row["closed_at"].isoformat() == "2026-06-19T00:20:52+00:00"
    assert row["contract_id"].startswith("C") and len(row["contract_id"]) == 56
    for row in ledger.rows:
        topics = row["topics"]
        assert len(topics) == len(row["topics_xdr"])
        assert [row[f"topic{i}"] for i in range(4)][: len(topics)] == [
            _expected_text(value, xdr) for value, xdr in zip(topics[:4], row["topics_xdr"], strict=False)
        ]
        assert all(row[f"topic{i}"] is None for i in range(len(topics), 4))
        first = base64.b64decode(row["topics_xdr"][0])[:4] if topics else b""
        if first in (_SYMBOL_XDR, b"\x00\x00\x00\x0e"):  # symbol or string
            assert row["event_type"] == topics[0]
        else:
            assert row["event_type"] is None
        assert x.SCVal.from_xdr(row["data_xdr"]) is not None


def _expected_text(value: Any, xdr_b64: str) -> str:
    kind = x.SCVal.from_xdr(xdr_b64).type
    if kind in (x.SCValType.SCV_SYMBOL, x.SCValType.SCV_STRING, x.SCValType.SCV_ADDRESS):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def test_xdr_columns_are_the_original_values(shared_ledgers: Path) -> None:
    # Topics and data re-encode to exactly the bytes of the ledger's own event (memoization included).
    ledger = corpus_ledger(shared_ledgers, MAINNET_20[1])
    originals = ledger.walk.v4_events_xdr  # the walk's: stellar-sdk's decoding, re-encoded
    events = _non_diagnostic(ledger.rows)
    assert len(events) == len(originals)
    for row, (topics_xdr, data_xdr) in zip(events, originals, strict=True):
        assert row["topics_xdr"] == list(topics_xdr)
        assert row["data_xdr"] == data_xdr


def test_classic_operations_sac_events_are_contract_events(shared_ledgers: Path) -> None:
    # CAP-67: the Stellar Asset Contract's events for classic payments are operation events with a contract
    # id; they are kept, as Stellar RPC getEvents returns them.
    ledger = corpus_ledger(shared_ledgers, MAINNET_20[0])
    op_types = Counter(
        ledger.operation_types[(row["transaction_index"], row["operation_index"])]
        for row in _non_diagnostic(ledger.rows)
    )
    assert op_types["PAYMENT"] > 100
    assert op_types["PATH_PAYMENT_STRICT_SEND"] > 0
    assert op_types["INVOKE_HOST_FUNCTION"] > 0


def test_failed_transactions_yield_rows_marked_unsuccessful(shared_ledgers: Path) -> None:
    # Failed transactions carry no operation events, only diagnostics; those are kept, marked.
    ledger = corpus_ledger(shared_ledgers, MAINNET_20[0])
    failed = [row for row in ledger.rows if not row["in_successful_tx"]]
    assert failed
    assert {row["type"] for row in failed} == {"diagnostic"}
    ok_hashes = {row["tx_hash"] for row in ledger.rows if row["in_successful_tx"]}
    assert ok_hashes.isdisjoint(row["tx_hash"] for row in failed)


@pytest.mark.parametrize(
    "typed",
    [
        {"symbol": "transfer"},
        {"string": "caf\u00e9 \ufffd"},
        {"string": "nul \u0000 inside"},
        {"string": "x" * 65},
        {"address": "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU"},
        {"i128": "-5"},
        {"u32": 7},
        {"vec": [{"symbol": "a"}, {"u32": 1}]},
        {"map": [{"key": {"symbol": "k"}, "val": {"i128": "5"}}]},
    ],
    ids=lambda v: next(iter(v)),
)
def test_topic_forms_kept_per_xdr_are_those_of_the_value(typed: Any) -> None:
    """`_topic` keeps a scalar topic's forms per XDR (the fast decoder's values): the JSON, base64, text form and
    event type of the value itself (as stellar-sdk's decoder's value gives them, unkept), the first time and
    from the table; a list or object is built anew for every row, so no row can change another's."""
    reference = scval_from_json(typed)
    reference_json = reference.to_json()
    expected = (
        reference_json,
        reference.xdr_b64,
        extract_module._text_form(reference, reference_json),
        extract_module._event_type(reference, reference_json),
    )
    seen = [extract_module._topic(ScValue.from_xdr_bytes(reference.xdr)) for _ in range(2)]
    assert seen == [expected, expected]
    assert extract_module._topic(reference) == expected  # without its bytes at hand: read as it is
    if isinstance(reference_json, (list, dict)):
        assert seen[0][0] is not seen[1][0]
