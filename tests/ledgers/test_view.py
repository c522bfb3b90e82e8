"""`LedgerView` on the real corpus: counts, hashes, fees, change order, against the corpus's own records.

Corpus-wide checks read `LedgerFacts` (tests/ledgers/conftest.py: one decode per ledger per session).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import xdr

from ledgers import opbodies
from ledgers.corpus import PUBNET, TESTNET, iter_file
from ledgers.view import EnvelopeMismatch, LedgerView
from tests.ledgers.conftest import LedgerFacts

RECONSTRUCTED = "stellar-etl/reconstructed"


pytestmark = pytest.mark.heavy(98)


def _by_key(facts: list[LedgerFacts]) -> dict[tuple[str, int], LedgerFacts]:
    return {(f.file, f.index): f for f in facts}


def test_every_ledger_opens_and_materializes(corpus_facts: list[LedgerFacts]) -> None:
    assert len(corpus_facts) == 413
    errors = [f"{f.file}#{f.index}:\n{f.error}" for f in corpus_facts if f.error]
    assert not errors, errors[0]


# ledger_summary.json's fields, as the data supports them (every one holds on all 413 ledgers):
# - tx_success: transactions with txSUCCESS / txFEE_BUMP_INNER_SUCCESS;
# - op_histogram / op_count: operations of every transaction, failed ones included;
# - claim_atoms: atoms in the results of every operation that succeeded, including operations inside failed
#   transactions (the README's "504 of them inside failed transactions, which are not trades");
# - path_payment_ok: path payments whose operation result is success, even if the transaction then failed;
# - contract_events: "tx_level(fee)" = transaction-level events (all of them are `fee` events in the corpus),
#   "diagnostic" = diagnostic events, "CONTRACT" = operation-level contract events (meta v4 operation events,
#   meta v3 soroban_meta events); event_topic0 counts those by first topic, "?" when it is not a symbol;
# - lp_ops: LIQUIDITY_POOL_DEPOSIT/WITHDRAW operations; invoke_host_fn: INVOKE_HOST_FUNCTION operations.
SUMMARY_FIELDS = [
    "seq",
    "protocol",
    "close_time",
    "lcm_version",
    "tx_count",
    "txset_envelopes",
    "tx_success",
    "op_histogram",
    "op_count",
    "tx_meta_versions",
    "claim_atoms",
    "path_payment_ops",
    "path_payment_ok",
    "lp_ops",
    "invoke_host_fn",
    "contract_events",
    "event_topic0",
]


def test_counts_agree_with_ledger_summary(corpus_facts: list[LedgerFacts], ledger_summary: dict) -> None:
    facts = _by_key(corpus_facts)
    assert set(facts) == set(ledger_summary)
    mismatches = []
    for key, expected in ledger_summary.items():
        got = facts[key].summary
        for name in SUMMARY_FIELDS:
            want: Any = expected[name]
            if name == "contract_events":
                want = {k: want.get(k, 0) for k in ("tx_level(fee)", "diagnostic", "CONTRACT")}
            if got.get(name) != want:
                mismatches.append(f"{key} {name}: view {got.get(name)!r} != summary {want!r}")
    assert not mismatches, "\n".join(mismatches[:20])


def test_unified_events_flag(corpus_facts: list[LedgerFacts], ledger_summary: dict) -> None:
    for f in corpus_facts:
        expected = ledger_summary[(f.file, f.index)]["contract_events"].get("tx_level(fee)", 0) > 0
        assert f.has_unified_events == expected, (f.file, f.index)
    # Meta v4 does not imply unified events: the load-test ledgers are meta v4 without fee events.
    load_test = [f for f in corpus_facts if f.file.startswith("stellar-rpc/")]
    assert len(load_test) == 30
    for f in load_test:
        assert f.summary["tx_meta_versions"] == {"4": f.summary["tx_count"]} and not f.has_unified_events


def test_envelopes_match_every_transaction(corpus_facts: list[LedgerFacts]) -> None:
    # Building `transactions` raises EnvelopeMismatch on any hash without an envelope; the sizes rule out extras.
    for f in corpus_facts:
        assert f.summary["txset_envelopes"] == f.summary["tx_count"], (f.file, f.index)


def test_fee_events_net_to_fee_charged(corpus_facts: list[LedgerFacts]) -> None:
    assert (
        sum(f.fee_event_txs for f in corpus_facts) == 6702
    )  # every transaction of every meta v4 ledger with fees
    bad = [(f.file, m) for f in corpus_facts for m in f.fee_event_mismatches]
    assert not bad, bad[:5]


def test_fee_changes_charge_fee_charged(corpus_facts: list[LedgerFacts]) -> None:
    bad = [(f.file, m) for f in corpus_facts for m in f.fee_balance_mismatches]
    assert not bad, bad[:5]


def test_changes_in_application_order(corpus_facts: list[LedgerFacts]) -> None:
    for f in corpus_facts:
        assert f.changes_in_order == f.changes_total, (f.file, f.index)
        assert not f.order_violations, (f.file, f.index, f.order_violations[:3])
    assert sum(f.changes_total for f in corpus_facts) > 200_000


def test_contract_data_key_hash_is_the_ttl_key_hash(corpus_facts: list[LedgerFacts]) -> None:
    # A new contract data entry is created with its TTL entry, keyed by the hash of the data's LedgerKey.
    assert sum(f.data_hashes_created for f in corpus_facts) > 100
    assert sum(f.data_hashes_without_ttl for f in corpus_facts) == 0


def test_scvals_round_trip(corpus_facts: list[LedgerFacts]) -> None:
    # Every topic and data value of every event (transaction-level, operation-level and diagnostic).
    assert sum(f.scvals_checked for f in corpus_facts) > 390_000
    bad = [failure for f in corpus_facts for failure in f.scval_failures]
    assert not bad, bad[:5]


# -- golden outputs of stellar-etl for the reconstructed ledgers ----------------------------------------------------
def _golden(corpus_root: Path, kind: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((corpus_root / "stellar-etl" / "golden" / kind).glob("*.golden")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _reconstructed(corpus_root: Path, open_views: Any) -> dict[int, LedgerView]:
    views = {}
    for path in sorted((corpus_root / RECONSTRUCTED).iterdir()):
        (view,) = open_views(f"{RECONSTRUCTED}/{path.name}")
        views[view.sequence] = view
    return views


def _norm(code: str) -> str:
    return re.sub(r"[^a-z]", "", code.lower())


def test_transactions_equal_stellar_etl_golden(corpus_root: Path, open_views: Any) -> None:
    views = _reconstructed(corpus_root, open_views)
    golden = _golden(corpus_root, "transactions")
    assert len(golden) == 709
    for row in golden:
        view = views[row["ledger_sequence"]]
        index = (row["id"] >> 12) & 0xFFFFF
        tx = view.transactions[index - 1]
        assert tx.hash == row["transaction_hash"]
        assert tx.index == index
        assert tx.source_account == row["account"]
        assert tx.sequence_number == row["account_sequence"]
        assert (tx.fee_charged, tx.max_fee) == (row["fee_charged"], row["max_fee"])
        assert tx.operation_count == row["operation_count"]
        assert tx.successful == row["successful"]
        assert _norm("TransactionResultCode" + tx.result_code) == _norm(row["transaction_result_code"])
        assert _norm("MemoTypeMemo" + tx.memo.type) == _norm(row["memo_type"])
        assert (tx.memo.value or "") == row["memo"]
    assert sum(len(v.transactions) for v in views.values()) == 709


def _golden_asset(details: dict[str, Any], prefix: str = "") -> str:
    if details[f"{prefix}asset_type"] == "native":
        return "native"
    return f"{details[prefix + 'asset_code']}:{details[prefix + 'asset_issuer']}"


def _stroops(value: float) -> int:
    return round(value * 10_000_000)


def test_operations_equal_stellar_etl_golden(corpus_root: Path, open_views: Any) -> None:
    views = _reconstructed(corpus_root, open_views)
    golden = _golden(corpus_root, "operations")
    assert len(golden) == 2085 + 143
    for row in golden:
        toid = row["id"]
        view = views[toid >> 32]
        op = view.transactions[((toid >> 12) & 0xFFFFF) - 1].operations[(toid & 0xFFF) - 1]
        details, body = row["details"], op.body
        assert op.type.lower() == row["type_string"]
        assert op.source_account == row["source_account"]
        assert op.result is not None
        assert _norm(row["operation_trace_code"]).endswith(_norm(op.result.code))
        if isinstance(body, opbodies.Payment):
            assert (body.destination, body.asset) == (details["to"], _golden_asset(details))
            assert body.amount == _stroops(details["amount"])
        elif isinstance(body, opbodies.ManageSellOffer | opbodies.ManageBuyOffer):
            assert body.offer_id == details["offer_id"]
            assert body.price == (details["price_r"]["n"], details["price_r"]["d"])
            assert body.selling == _golden_asset(details, "selling_")
            assert body.buying == _golden_asset(details, "buying_")
        elif isinstance(body, opbodies.PathPaymentStrictReceive):
            assert body.destination == details["to"]
            assert body.send_max == _stroops(details["source_max"])
            assert body.dest_amount == _stroops(details["amount"])
            assert body.path == tuple(_golden_asset(hop) for hop in details["path"])
        elif isinstance(body, opbodies.AllowTrust):
            assert body.trustor == details["trustor"]
            assert body.asset == _golden_asset(details)
        elif isinstance(body, opbodies.CreateAccount):
            assert body.destination == details["account"]
            assert body.starting_balance == _stroops(details["starting_balance"])
        elif isinstance(body, opbodies.ChangeTrust):
            assert body.asset == _golden_asset(details)


def test_claim_atoms_and_trades(open_views: Any) -> None:
    # 30822020 holds zero-amount claim atoms (no trade for Horizon/stellar-etl); 30822024/25 hold real trades.
    (view,) = open_views(f"{RECONSTRUCTED}/FE29B17B--30822020.xdr.zstd")
    atoms = [
        atom
        for tx in view.transactions
        for op in tx.operations
        if op.result is not None
        for atom in op.result.claim_atoms
    ]
    assert atoms and {atom.kind for atom in atoms} == {"order_book_v0"}
    assert any(atom.amount_sold == 0 or atom.amount_bought == 0 for atom in atoms)
    assert all(atom.seller and atom.seller.startswith("G") and atom.offer_id for atom in atoms)


# -- single ledgers --------------------------------------------------------------------------------------------------
def test_header_fields(open_views: Any) -> None:
    (view,) = open_views("wallet-backend/ledger-63092982.xdr.gz")
    assert (view.sequence, view.protocol_version, view.lcm_version) == (63092982, 26, 2)
    assert view.close_time == 1781828452
    assert view.closed_at == datetime.fromtimestamp(1781828452, UTC)
    assert re.fullmatch(r"[0-9a-f]{64}", view.ledger_hash)
    assert re.fullmatch(r"[0-9a-f]{64}", view.previous_ledger_hash)
    assert view.transaction_count == view.tx_set_size == 305
    assert view.has_unified_events
    (previous,) = open_views("wallet-backend/ledger-63092983.xdr.gz")
    assert previous.previous_ledger_hash == view.ledger_hash


def test_fee_bump_transactions(open_views: Any) -> None:
    (view,) = open_views("wallet-backend/ledger-57500008.xdr.gz")
    bumps = [tx for tx in view.transactions if tx.is_fee_bump]
    assert len(bumps) == 57
    for tx in bumps:
        assert tx.fee_account and tx.fee_payer == tx.fee_account
        assert tx.inner_hash and tx.inner_hash != tx.hash
        assert tx.result_code.startswith("txFEE_BUMP_INNER") or not tx.successful
        # The fee bump pays: its fee events name the fee account.
        assert {e.event.topics[1].address for e in tx.fee_events} == {tx.fee_account}


def test_operation_events_and_sources(open_views: Any) -> None:
    (view,) = open_views("wallet-backend/ledger-57500008.xdr.gz")
    invokes = [op for tx in view.transactions for op in tx.operations if op.type == "INVOKE_HOST_FUNCTION"]
    assert len(invokes) == 48
    for op in invokes:
        assert isinstance(op.body, opbodies.InvokeHostFunction)
        if op.body.function_type == "invoke_contract":
            assert op.body.contract_id and op.body.contract_id.startswith("C") and op.body.function_name
    transfers = [
        e for tx in view.transactions for op in tx.operations for e in op.events if e.topic0 == "transfer"
    ]
    assert transfers and all(e.type == "contract" and e.contract_id for e in transfers)
    amounts = [e.data.int if e.data.int is not None else e.data.map_get("amount").int for e in transfers]  # type: ignore[union-attr]
    assert all(isinstance(a, int) and a >= 0 for a in amounts)


def test_meta_v3_soroban_events_belong_to_operation_one(open_views: Any) -> None:
    (view,) = open_views("stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd")
    soroban = [tx for tx in view.transactions if tx.meta_version == 3 and tx.soroban_events]
    for tx in soroban:
        assert tx.operations[0].events == tx.soroban_events
        assert tx.contract_events == tx.soroban_events


def test_muxed_accounts(open_views: Any) -> None:
    (view,) = open_views("stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd")
    tx = view.transactions[8]
    assert tx.source_muxed == "MDWII4HT7JX2OYKKOIYKY5MU3U2NR7HPBEIFPCEJBLDP4NDJJFSIGAAAKNTH7NID4WQ42"
    assert tx.source_account == "GDWII4HT7JX2OYKKOIYKY5MU3U2NR7HPBEIFPCEJBLDP4NDJJFSIGSFL"
    # This operation names its own (plain) source; the muxed form belongs to the transaction only.
    assert (tx.operations[0].source_account, tx.operations[0].source_muxed)[1] is None
    muxed = [tx for tx in view.transactions if tx.source_muxed]
    for tx in muxed:
        for op in tx.operations:
            if op.source_account == tx.source_account:
                assert op.source_muxed in (None, tx.source_muxed)


def test_transactions_match_the_token_transfer_goldens(corpus_root: Path, open_views: Any) -> None:
    # stellar/go's TTP outputs name each event's transaction by hash and index; the early ledgers among them
    # (protocols 2 and 4) hold ENVELOPE_TYPE_TX_V0 envelopes, hashed as V1 transactions.
    event_files = sorted((corpus_root / "stellar-go" / "ttp-example").glob("*-events"))
    assert len(event_files) == 7
    checked = 0
    for path in event_files:
        (view,) = open_views(f"stellar-go/ttp-example/{path.name.removesuffix('-events')}")
        blocks = re.findall(r"### Event Type: (\w+)\n(\{.*?\n\})\n", path.read_text(), flags=re.DOTALL)
        assert blocks, path.name
        for kind, text in blocks:
            event = json.loads(text)
            meta = event["meta"]
            tx = view.transactions[meta["transactionIndex"] - 1]
            assert tx.hash == meta["txHash"]
            if (
                kind == "fee" and view.sequence != 56065483
            ):  # its 2 Soroban fees changed in later TTP versions
                assert event["fee"]["from"] == tx.fee_payer
                assert int(event["fee"]["amount"]) == tx.fee_charged
            checked += 1
    assert checked == 548 + 2 + 2 + 4 + 9 + 7 + 5


def test_view_from_decoded_object_equals_from_xdr(corpus_root: Path) -> None:
    raw = next(iter_file(corpus_root / "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd"))
    fast = LedgerView.from_xdr(raw, PUBNET)
    slow = LedgerView(xdr.LedgerCloseMeta.from_xdr_bytes(raw), PUBNET)  # envelopes hashed by re-encoding
    assert [tx.hash for tx in fast.transactions] == [tx.hash for tx in slow.transactions]
    assert [tx.operations for tx in fast.transactions][:20] == [tx.operations for tx in slow.transactions][
        :20
    ]


def test_decode_matches_stellar_sdk(corpus_root: Path) -> None:
    from ledgers import xdrconv
    from ledgers.decode import decode_ledger

    for relative in (
        "stellar-go/testbucket/FFFFFC18--999.xdr.zst",
        "stellar-go/lighthorizon-testnet/1410100",
    ):
        raw = next(iter_file(corpus_root / relative))
        decoded = decode_ledger(raw, xdrconv.network_id(TESTNET))
        assert decoded.meta.to_xdr_bytes() == raw
        assert decoded.meta == xdr.LedgerCloseMeta.from_xdr_bytes(raw)


def test_wrong_passphrase_fails_loudly(corpus_root: Path) -> None:
    raw = next(iter_file(corpus_root / "stellar-go/testbucket/FFFFFC18--999.xdr.zst"))
    view = LedgerView.from_xdr(raw, PUBNET)  # a testnet ledger
    with pytest.raises(EnvelopeMismatch, match="network passphrase"):
        _ = view.transactions


def test_upgrade_changes_come_last(open_views: Any) -> None:
    # The load-test generator injects its 200 fixture accounts as the changes of a flags upgrade.
    view = open_views("stellar-go/load-test/load-test-ledgers-v24.xdr.zstd")[0]
    (upgrade,) = view.upgrade_changes
    assert upgrade.upgrade == "flags" and len(upgrade.changes) == 200
    assert {(c.kind, c.entry_type) for c in upgrade.changes} == {("created", "account")}
    ordered = list(view.ledger_changes_in_order())
    assert [change for _, _, change in ordered[-200:]] == list(upgrade.changes)
    assert all(tx is None and op is None for tx, op, _ in ordered[-200:])


def test_evicted_keys(corpus_root: Path) -> None:
    # No corpus ledger evicts anything: add keys to a real LCM v1 and read them back.
    raw = next(iter_file(corpus_root / "stellar-go/testbucket/FFFFFC18--999.xdr.zst"))
    meta = xdr.LedgerCloseMeta.from_xdr_bytes(raw)
    code_hash = xdr.Hash(bytes(range(32)))
    meta.v1.evicted_keys = [
        xdr.LedgerKey(xdr.LedgerEntryType.CONTRACT_CODE, contract_code=xdr.LedgerKeyContractCode(code_hash)),
        xdr.LedgerKey(xdr.LedgerEntryType.TTL, ttl=xdr.LedgerKeyTtl(code_hash)),
    ]
    view = LedgerView.from_xdr(meta.to_xdr_bytes(), TESTNET)
    assert [key.id for key in view.evicted_keys] == [
        f"contract_code:{bytes(range(32)).hex()}",
        f"ttl:{bytes(range(32)).hex()}",
    ]


def test_view_graph_is_acyclic(corpus_root: Path) -> None:
    # Reference counting alone must free a dropped ledger (see ledgers.model.gc_paused): no cycles anywhere.
    import gc

    raw = next(iter_file(corpus_root / "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd"))
    gc.collect()
    view = LedgerView.from_xdr(raw, PUBNET)
    for _tx, _op, change in view.ledger_changes_in_order():
        assert change.key.id
    for tx in view.transactions:
        _ = (tx.events, tx.diagnostic_events, tx.return_value, [op.events for op in tx.operations])
    del view
    assert gc.collect() == 0
