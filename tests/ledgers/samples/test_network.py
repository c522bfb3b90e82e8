"""The simulated network (`ledgers.samples.network`): valid ledgers our LedgerView decodes, consecutive and chained,
the same for the same seed, and resumed from its folder exactly where it stopped."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from stellar_sdk import xdr as x

from ledgers.samples import PUBNET_PASSPHRASE, object_key
from ledgers.samples.build import LedgerChain
from ledgers.samples.classic import Payment
from ledgers.samples.network import SimulatedNetwork
from ledgers.samples.scenario import SCRIPTS, transactions_for
from ledgers.samples.transactions import TxSpec
from ledgers.samples.xdrkit import UNIT
from ledgers.view import LedgerView
from tests.ledgers.samples import object_files, read_batches, read_ledgers

T0 = 1_800_000_000  # close times the tests pass: a wall clock would make the bytes differ between runs
LIVE = 12  # simulated ledgers closed after the 6 scripted ones


def _grow(folder: Path, seed: int, count: int, start: int = T0) -> SimulatedNetwork:
    network = SimulatedNetwork.resume(folder, seed=seed)
    for n in range(count):
        network.close_next(start + 5 * n)
    return network


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("network")
    _grow(folder, seed=7, count=LIVE)
    return folder


def _metas(folder: Path) -> list[x.LedgerCloseMetaV2]:
    return [batch.ledger_close_metas[0].v2 for batch in read_batches(folder)]


def test_ledgers_are_consecutive_chained_and_close_later_each_time(grown: Path) -> None:
    metas = _metas(grown)
    sequences = [m.ledger_header.header.ledger_seq.uint32 for m in metas]
    assert sequences == list(range(2, 2 + 6 + LIVE))
    for before, after in itertools.pairwise(metas):
        assert after.ledger_header.header.previous_ledger_hash.hash == before.ledger_header.hash.hash
        closes = [m.ledger_header.header.scp_value.close_time.time_point.uint64 for m in (before, after)]
        assert closes[1] > closes[0]
    assert metas[6].ledger_header.header.scp_value.close_time.time_point.uint64 == T0


def test_every_simulated_ledger_has_transfers_trades_and_contract_events(grown: Path) -> None:
    views = [LedgerView.from_xdr(raw, PUBNET_PASSPHRASE) for _, raw in read_ledgers(grown)][6:]
    assert len(views) == LIVE
    for view in views:
        assert all(tx.successful for tx in view.transactions), view.sequence
        ops = [op.type for tx in view.transactions for op in tx.operations]
        assert "PAYMENT" in ops and "PATH_PAYMENT_STRICT_SEND" in ops and "INVOKE_HOST_FUNCTION" in ops
        topics = [event.topic0 for tx in view.transactions for op in tx.operations for event in op.events]
        assert "transfer" in topics and "swap" in topics, (view.sequence, topics)
    # Order-book trades happen while the market maker's offers last (in about half the ledgers).
    assert any(
        op.type == "MANAGE_SELL_OFFER" for view in views for tx in view.transactions for op in tx.operations
    )


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(tmp_path: Path, grown: Path) -> None:
    again = tmp_path / "again"
    _grow(again, seed=7, count=LIVE)
    assert [p.read_bytes() for p in object_files(again)] == [p.read_bytes() for p in object_files(grown)]
    other = tmp_path / "other"
    _grow(other, seed=8, count=2)
    first_live = object_key(8)
    assert (other / first_live).read_bytes() != (grown / first_live).read_bytes()


def test_resuming_continues_where_it_stopped(tmp_path: Path, grown: Path) -> None:
    folder = tmp_path / "resumed"
    _grow(folder, seed=7, count=5)
    network = _grow(folder, seed=7, count=LIVE - 5, start=T0 + 5 * 5)
    assert network.last_ledger == 7 + LIVE
    assert [p.read_bytes() for p in object_files(folder)] == [p.read_bytes() for p in object_files(grown)]


def test_another_seed_starts_over_after_the_samples(tmp_path: Path) -> None:
    folder = tmp_path / "reseeded"
    _grow(folder, seed=1, count=4)
    network = SimulatedNetwork.resume(folder, seed=2)
    assert network.last_ledger == 7
    assert len(object_files(folder)) == 6


def test_a_failed_transaction_rolls_back_the_operations_before_its_failure() -> None:
    """The state snapshot taken per transaction copies records shallowly: an earlier operation's edits must still
    vanish when a later one fails."""
    chain = LedgerChain(PUBNET_PASSPHRASE, 2)
    for index in range(len(SCRIPTS)):
        chain.close(transactions_for(index, chain.cast), T0 + index)
    cast, state = chain.cast, chain.state
    alice, bob = cast.account("alice"), cast.account("bob")
    before = (state.trustline(alice, cast.usdc).balance, state.trustline(bob, cast.usdc).balance)
    fails = TxSpec(alice, (Payment(bob, cast.usdc, 1 * UNIT), Payment(bob, cast.native, 10**9 * UNIT)))
    built = chain.close([fails], T0 + 100)
    assert built.counts.failed_transactions == 1
    assert (state.trustline(alice, cast.usdc).balance, state.trustline(bob, cast.usdc).balance) == before
