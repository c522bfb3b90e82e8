"""The project's own readers open the samples: `LedgerView` and the galexie datastore source."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ledgers.samples import PUBNET_PASSPHRASE, SampleInfo, write_sample_datastore
from ledgers.view import LedgerView
from tests.ledgers.samples import read_ledgers

TESTNET = "Test SDF Network ; September 2015"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    return write_sample_datastore(tmp_path_factory.mktemp("samples"))


def test_ledger_view_counts_agree_with_sample_info(sample: SampleInfo) -> None:
    ledgers = read_ledgers(sample.folder)
    assert [seq for seq, _ in ledgers] == [c.sequence for c in sample.ledgers]
    for (_, raw), counts in zip(ledgers, sample.ledgers, strict=True):
        view = LedgerView.from_xdr(raw, PUBNET_PASSPHRASE)
        assert view.sequence == counts.sequence and view.close_time == counts.close_time
        assert view.ledger_hash == counts.ledger_hash
        assert view.tx_set_size == view.transaction_count == counts.transactions
        assert sum(not tx.successful for tx in view.transactions) == counts.failed_transactions
        ops = Counter(op.type for tx in view.transactions for op in tx.operations)
        assert ops == Counter(counts.operations_by_type)
        events = Counter(e.event.topic0 for tx in view.transactions for e in tx.events)
        events.update(ev.topic0 for tx in view.transactions for op in tx.operations for ev in op.events)
        assert events == Counter(counts.events_by_topic)
        assert list(view.ledger_changes_in_order())


def test_ledger_view_resolves_transaction_fields(sample: SampleInfo) -> None:
    accounts = set(sample.accounts.values())
    for _, raw in read_ledgers(sample.folder):
        view = LedgerView.from_xdr(raw, PUBNET_PASSPHRASE)
        for index, tx in enumerate(view.transactions, start=1):
            assert tx.index == index and tx.source_account in accounts
            assert tx.meta_version == 4 and not tx.is_fee_bump
            assert tx.successful == (tx.result_code == "txSUCCESS")
            assert all(op.result is not None for op in tx.operations)


def test_ledger_view_with_the_wrong_passphrase_fails_loudly(sample: SampleInfo) -> None:
    _, raw = read_ledgers(sample.folder)[0]
    view = LedgerView.from_xdr(raw, TESTNET)
    with pytest.raises(ValueError, match="no envelope"):
        _ = view.transactions


async def test_datastore_source_yields_every_ledger(sample: SampleInfo) -> None:
    sources = pytest.importorskip("ledgers.sources")
    if not (Path(sources.__file__).parent / "datastore.py").is_file():
        pytest.skip("ledgers/sources/datastore.py does not exist yet")
    source = await sources.open_source(str(sample.folder), "pubnet")
    try:
        got = [item async for item in source.ledgers(sample.first_ledger, sample.last_ledger)]
    finally:
        await source.close()
    assert got == read_ledgers(sample.folder)


async def test_datastore_source_checks_the_network(tmp_path: Path) -> None:
    sources = pytest.importorskip("ledgers.sources")
    info = write_sample_datastore(
        tmp_path, TESTNET, first_ledger=64_000 - 1, ledgers=2
    )  # spans two partitions
    with pytest.raises(sources.PassphraseMismatch):
        await sources.open_source(str(tmp_path), "pubnet")
    source = await sources.open_source(f"file://{tmp_path}", "testnet")
    try:
        got = [seq async for seq, _ in source.ledgers(info.first_ledger, info.last_ledger)]
    finally:
        await source.close()
    assert got == [63_999, 64_000]
