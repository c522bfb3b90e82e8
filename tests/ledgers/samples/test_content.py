"""The samples hold every kind of row the demo needs, in the shapes real ledgers have."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stellar_sdk import Asset

from ledgers.samples import PUBNET_PASSPHRASE, SampleInfo, write_sample_datastore
from ledgers.view import LedgerView
from tests.ledgers.samples import read_ledgers


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    return write_sample_datastore(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="module")
def views(sample: SampleInfo) -> list[LedgerView]:
    return [LedgerView.from_xdr(raw, PUBNET_PASSPHRASE) for _, raw in read_ledgers(sample.folder)]


def _ops(views: list[LedgerView], op_type: str) -> list[tuple[LedgerView, Any, Any]]:
    return [(v, tx, op) for v in views for tx in v.transactions for op in tx.operations if op.type == op_type]


def _changes(views: list[LedgerView]) -> Iterator[tuple[int, Any, Any, Any]]:
    for view in views:
        for tx, op, change in view.ledger_changes_in_order():
            yield view.sequence, tx, op, change


def test_info_names_the_actors(sample: SampleInfo) -> None:
    issuer = sample.accounts["issuer"]
    assert set(sample.accounts) >= {"treasury", "issuer", "alice", "bob", "carol", "market_maker"}
    assert sample.assets["USDC"] == f"USDC:{issuer}"
    assert sample.asset_contracts[f"USDC:{issuer}"] == Asset("USDC", issuer).contract_id(PUBNET_PASSPHRASE)
    assert sample.asset_contracts["native"] == Asset.native().contract_id(PUBNET_PASSPHRASE)
    assert all(c.startswith("C") for c in sample.contracts.values())
    totals = sample.events_by_topic
    assert totals["fee"] == sample.transactions + 6  # one per transaction, plus the 6 Soroban refunds
    assert totals["mint"] == 3 and totals["burn"] == 1 and totals["swap"] == 2


def test_accounts_are_created_with_transfer_events(views: list[LedgerView], sample: SampleInfo) -> None:
    created = _ops(views, "CREATE_ACCOUNT")
    assert len(created) == 3
    for _, _, op in created:
        (event,) = op.events
        assert event.topic0 == "transfer" and event.topics[3].string == "native"
        assert any(c.kind == "created" and c.entry_type == "account" for c in op.changes)


def test_trustlines_are_created_and_one_is_deauthorized(views: list[LedgerView], sample: SampleInfo) -> None:
    assert len(_ops(views, "CHANGE_TRUST")) == 5
    created = [
        c
        for _, _, op, c in _changes(views)
        if op is not None and op.type == "CHANGE_TRUST" and c.kind == "created"
    ]
    assert len(created) == 5 and all(c.entry.flags == 1 for c in created)
    ((_, _, op),) = _ops(views, "SET_TRUST_LINE_FLAGS")
    assert not op.events
    updated = [c.entry for c in op.changes if c.kind == "updated"]
    assert [(t.account_id, t.asset, t.flags) for t in updated] == [
        (sample.accounts["carol"], sample.assets["EURC"], 2)
    ]


def test_payments_include_native_mint_and_burn(views: list[LedgerView], sample: SampleInfo) -> None:
    issuer, usdc = sample.accounts["issuer"], sample.assets["USDC"]
    events = [e for _, tx, op in _ops(views, "PAYMENT") if tx.successful for e in op.events]
    mints = [e for e in events if e.topic0 == "mint"]
    burns = [e for e in events if e.topic0 == "burn"]
    assert len(mints) == 3 and len(burns) == 1
    for event in mints + burns:
        assert len(event.topics) == 3 and event.topics[2].string == usdc  # protocol-23 layout, no admin
        assert event.contract_id == sample.asset_contracts[usdc]
        assert event.topics[1].address != issuer
    natives = [e for e in events if e.topic0 == "transfer" and e.topics[3].string == "native"]
    assert natives and all(e.contract_id == sample.asset_contracts["native"] for e in natives)
    memos = {tx.memo.value for v in views for tx in v.transactions if tx.memo.type == "text"}
    assert "invoice 1042" in memos


def test_path_payment_crosses_an_offer_and_a_pool(views: list[LedgerView], sample: SampleInfo) -> None:
    ((_, tx, op),) = _ops(views, "PATH_PAYMENT_STRICT_SEND")
    assert tx.successful and op.result.code == "PATH_PAYMENT_STRICT_SEND_SUCCESS"
    offer, pool = op.result.offers
    assert (offer.kind, offer.seller, offer.offer_id) == ("order_book", sample.accounts["market_maker"], 1)
    assert (pool.kind, pool.pool_id) == ("liquidity_pool", sample.pools["EURC/USDC"])
    assert (
        op.result.last.destination == sample.accounts["carol"] and op.result.last.amount == pool.amount_sold
    )
    kinds = {(c.kind, c.entry_type) for c in op.changes}
    assert {("updated", "offer"), ("updated", "liquidity_pool")} <= kinds
    transfers = [(e.topics[1].address, e.topics[2].address, e.data.int) for e in op.events]
    alice, carol = sample.accounts["alice"], sample.accounts["carol"]
    assert transfers == [
        (alice, offer.seller, offer.amount_bought),
        (offer.seller, alice, offer.amount_sold),
        (alice, pool.pool_id, pool.amount_bought),
        (pool.pool_id, alice, pool.amount_sold),
        (alice, carol, op.result.last.amount),
    ]


def test_manage_sell_offer_crosses(views: list[LedgerView], sample: SampleInfo) -> None:
    ((_, _, op),) = _ops(views, "MANAGE_SELL_OFFER")
    (atom,) = op.result.claim_atoms
    assert atom.kind == "order_book" and atom.offer_id == 2 and op.result.offer_effect == "deleted"
    assert [e.topic0 for e in op.events] == ["transfer", "transfer"]


def test_failed_transaction_pays_only_its_fee(views: list[LedgerView]) -> None:
    failed = [tx for v in views for tx in v.transactions if not tx.successful]
    assert len(failed) == 1
    (tx,) = failed
    assert tx.result_code == "txFAILED" and tx.operations[0].result.code == "PAYMENT_UNDERFUNDED"
    assert [e.event.topic0 for e in tx.events] == ["fee"] and tx.events[0].event.data.int == tx.fee_charged
    assert all(not op.changes and not op.events for op in tx.operations)


def test_soroban_transactions_are_refunded_after_all_transactions(views: list[LedgerView]) -> None:
    soroban = [
        tx
        for v in views
        for tx in v.transactions
        if tx.operations[0].type in ("INVOKE_HOST_FUNCTION", "EXTEND_FOOTPRINT_TTL")
    ]
    assert len(soroban) == 6
    for tx in soroban:
        refund = tx.events[-1]
        assert refund.stage == "after_all_txs" and refund.event.data.int < 0
        (post,) = [c for c in tx.post_apply_fee_changes if c.kind == "updated"]
        assert post.entry_type == "account"


def test_custom_contract_event_and_position_lifecycle(views: list[LedgerView], sample: SampleInfo) -> None:
    amm, alice = sample.contracts["amm"], sample.accounts["alice"]
    swaps = [
        e
        for v in views
        for tx in v.transactions
        for op in tx.operations
        for e in op.events
        if e.topic0 == "swap"
    ]
    assert len(swaps) == 2
    for event in swaps:
        assert event.contract_id == amm and event.type == "contract"
        assert event.topics[1].address == alice
        assert event.data.map_get("amount_in").int > 0 and event.data.map_get("amount_out").int > 0
    position = [
        (seq, c.kind)
        for seq, _, _, c in _changes(views)
        if c.entry_type == "contract_data" and c.key.contract_id == amm and c.kind != "state"
    ]
    assert [kind for _, kind in position] == ["created", "updated", "removed"]
    assert len({seq for seq, _ in position}) == 3  # one per ledger
    ttl_kinds = [
        c.kind
        for _, _, op, c in _changes(views)
        if c.entry_type == "ttl"
        and op is not None
        and op.type == "INVOKE_HOST_FUNCTION"
        and c.kind != "state"
    ]
    assert "created" in ttl_kinds and "removed" in ttl_kinds


def test_ttl_only_extension(views: list[LedgerView]) -> None:
    ((_, _, op),) = _ops(views, "EXTEND_FOOTPRINT_TTL")
    assert op.changes and {c.entry_type for c in op.changes} == {"ttl"}
    before, after = (c.entry for c in op.changes)
    assert after.live_until_ledger_seq > before.live_until_ledger_seq


def test_sac_transfer_to_a_contract_balance(views: list[LedgerView], sample: SampleInfo) -> None:
    usdc, vault, bob = sample.assets["USDC"], sample.contracts["vault"], sample.accounts["bob"]
    sac = sample.asset_contracts[usdc]
    to_vault = [
        (op, e)
        for _, _, op in _ops(views, "INVOKE_HOST_FUNCTION")
        for e in op.events
        if e.topic0 == "transfer" and e.topics[2].address == vault
    ]
    assert len(to_vault) == 2
    for _, event in to_vault:
        assert event.contract_id == sac and event.topics[1].address == bob and event.topics[3].string == usdc
    balance_changes = [
        c
        for op, _ in to_vault
        for c in op.changes
        if c.entry_type == "contract_data" and c.key.contract_id == sac and c.kind != "state"
    ]
    assert [c.kind for c in balance_changes] == ["created", "updated"]
    key = balance_changes[0].entry.key.vec
    assert (key[0].symbol, key[1].address) == ("Balance", vault)
    assert balance_changes[-1].entry.value.map_get("amount").int == sum(e.data.int for _, e in to_vault)
