"""REFERENCE §3 reconciliation on every sample ledger, computed here from entry changes and events.

For every holder and asset, the change of its balance over the ledger (account XLM, trustline, Stellar Asset
Contract balance entry, pool reserve) equals the net of its fee/transfer/mint/burn events (issuers excluded for
their own asset), and each transaction's fee events add up to its ``fee_charged``. Entry states also chain across
ledgers: the ``state`` an entry shows is what the previous change of it left.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from stellar_sdk import Asset

from ledgers.samples import PUBNET_PASSPHRASE, write_sample_datastore
from ledgers.view import LedgerView
from tests.ledgers.samples import read_ledgers

TESTNET = "Test SDF Network ; September 2015"
TOKEN_TOPICS = {"fee", "transfer", "mint", "burn", "clawback"}


@pytest.fixture(
    scope="module",
    params=[(PUBNET_PASSPHRASE, 2, 6), (TESTNET, 1000, 9)],
    ids=["pubnet-default", "testnet-with-fillers"],
)
def views(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[LedgerView]:
    passphrase, first, count = request.param
    info = write_sample_datastore(tmp_path_factory.mktemp("samples"), passphrase, first, count)
    return [LedgerView.from_xdr(raw, passphrase) for _, raw in read_ledgers(info.folder)]


def _asset_of_sac(view: LedgerView, asset: str) -> str:
    if asset == "native":
        return Asset.native().contract_id(view.network_passphrase)
    code, issuer = asset.split(":")
    return Asset(code, issuer).contract_id(view.network_passphrase)


def _token_events(view: LedgerView) -> Iterator[tuple[Any, Any]]:
    """Every (transaction, event) of the token topics: fees and refunds, then operation events."""
    for tx in view.transactions:
        for tx_event in tx.events:
            yield tx, tx_event.event
        for op in tx.operations:
            for event in op.events:
                if event.topic0 in TOKEN_TOPICS:
                    yield tx, event


def _event_deltas(view: LedgerView) -> dict[tuple[str, str], int]:
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    for _tx, event in _token_events(view):
        topics = event.topics
        name, amount = event.topic0, event.data.int
        asset = "native" if name == "fee" else topics[-1].string
        # An event is a SAC event exactly when its contract is the asset's contract on this network.
        assert event.contract_id == _asset_of_sac(view, asset), event
        if name == "transfer":
            moves = [(topics[1].address, -amount), (topics[2].address, amount)]
        elif name == "mint":
            moves = [(topics[1].address, amount)]
        else:  # fee, burn, clawback: from topics[1]
            moves = [(topics[1].address, -amount)]
        for holder, delta in moves:
            deltas[holder, asset] += delta
    return deltas


def _balances(entry: Any, entry_type: str, sacs: dict[str, str]) -> list[tuple[tuple[str, str], int]]:
    """The (holder, asset) balances an entry holds."""
    if entry_type == "account":
        return [((entry.account_id, "native"), entry.balance)]
    if entry_type == "trustline":
        return [((entry.account_id, entry.asset), entry.balance)]
    if entry_type == "liquidity_pool":
        return [
            ((entry.pool_id, entry.asset_a), entry.reserve_a),
            ((entry.pool_id, entry.asset_b), entry.reserve_b),
        ]
    if entry_type == "contract_data" and entry.contract_id in sacs:
        key = entry.key.vec
        if key and key[0].symbol == "Balance":
            return [((key[1].address, sacs[entry.contract_id]), entry.value.map_get("amount").int)]
    return []


def _balance_deltas(view: LedgerView) -> dict[tuple[str, str], int]:
    sacs = {contract: asset for asset, contract in _known_sacs(view).items()}
    before: dict[tuple[str, str], int] = {}
    after: dict[tuple[str, str], int] = {}
    for _tx, _op, change in view.ledger_changes_in_order():
        assert change.kind != "removed" or change.entry_type not in ("account", "trustline"), change
        if change.entry is None:
            continue
        for key, value in _balances(change.entry, change.entry_type, sacs):
            if change.kind == "state":
                before.setdefault(key, value)
            elif change.kind == "created":
                before.setdefault(key, 0)
            after[key] = value
    return {key: after[key] - before[key] for key in after}


def _known_sacs(view: LedgerView) -> dict[str, str]:
    assets = {"native"}
    for _tx, event in _token_events(view):
        if event.topic0 != "fee":
            assets.add(event.topics[-1].string)
    return {asset: _asset_of_sac(view, asset) for asset in assets}


def test_every_balance_change_equals_its_events(views: list[LedgerView]) -> None:
    for view in views:
        events = _event_deltas(view)
        balances = _balance_deltas(view)
        for holder, asset in set(events) | set(balances):
            if asset != "native" and holder == asset.split(":")[1]:
                continue  # the issuer holds no balance of its own asset
            assert balances.get((holder, asset), 0) == events.get((holder, asset), 0), (
                view.sequence,
                holder,
                asset,
            )


def test_each_transaction_fee_events_sum_to_fee_charged(views: list[LedgerView]) -> None:
    for view in views:
        for tx in view.transactions:
            fees = [e.event for e in tx.events if e.event.topic0 == "fee"]
            assert fees and all(e.topics[1].address == tx.fee_payer for e in fees)
            assert sum(e.data.int for e in fees) == tx.fee_charged > 0
            assert tx.events[0].stage == "before_all_txs"
            assert [e.stage for e in tx.events[1:]] in ([], ["after_all_txs"])


def test_fee_pool_grows_by_the_fees_charged(views: list[LedgerView]) -> None:
    for previous, view in itertools.pairwise(views):
        assert view.fee_pool - previous.fee_pool == sum(tx.fee_charged for tx in view.transactions)


def test_entry_states_continue_from_the_previous_change(views: list[LedgerView]) -> None:
    last: dict[str, Any] = {}
    for view in views:
        for _tx, _op, change in view.ledger_changes_in_order():
            key = change.key.id
            if change.kind == "state" and key in last:
                assert change.entry == last[key], (view.sequence, key)
            if change.kind == "created":
                assert last.get(key) is None, (view.sequence, key)
            if change.kind in ("created", "updated", "state"):
                last[key] = change.entry
            if change.kind == "removed":
                last[key] = None
            if change.kind in ("created", "updated"):
                assert change.entry.last_modified_ledger == view.sequence


def test_ledger_sequences_and_passphrase_round_trip(views: list[LedgerView]) -> None:
    assert [v.sequence for v in views] == list(range(views[0].sequence, views[0].sequence + len(views)))
    assert all(v.has_unified_events and v.protocol_version >= 23 and v.lcm_version == 2 for v in views)
