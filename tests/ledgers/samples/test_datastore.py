"""The written folder is a valid galexie datastore of valid, chained ledgers whose envelopes match results."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
from stellar_sdk import Keypair, StrKey
from stellar_sdk import xdr as x

from ledgers.samples import (
    MARKER_NAME,
    PUBNET_PASSPHRASE,
    SampleInfo,
    build_sample_ledgers,
    object_key,
    write_sample_datastore,
)
from tests.conftest import SHARED_LEDGERS
from tests.corpus import sdk_envelopes
from tests.ledgers.samples import OBJECT_NAME, PARTITION_NAME, object_files, read_batches

START = 1767225600  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    return write_sample_datastore(tmp_path_factory.mktemp("samples"))


def _metas(info: SampleInfo) -> list[x.LedgerCloseMetaV2]:
    return [batch.ledger_close_metas[0].v2 for batch in read_batches(info.folder)]


def test_config_has_galexie_keys(sample: SampleInfo) -> None:
    config = json.loads((sample.folder / ".config.json").read_text())
    assert config == {
        "networkPassphrase": PUBNET_PASSPHRASE,
        "version": "1.0",
        "compression": "zstd",
        "ledgersPerBatch": 1,
        "batchesPerPartition": 64000,
    }
    reference = SHARED_LEDGERS / "stellar-go" / "testbucket" / "config.json"
    if not reference.is_file():
        pytest.skip(f"the real corpus is absent ({reference})")
    assert list(config) == list(json.loads(reference.read_text()))


def test_folder_holds_one_object_per_ledger_at_its_galexie_key(sample: SampleInfo) -> None:
    files = object_files(sample.folder)
    assert len(files) == sample.last_ledger - sample.first_ledger + 1 == 6
    for sequence, path in enumerate(files, start=sample.first_ledger):
        name = OBJECT_NAME.match(path.name)
        partition = PARTITION_NAME.match(path.parent.name)
        assert name and partition, path
        assert (int(name.group(1), 16), int(name.group(2))) == (0xFFFFFFFF - sequence, sequence)
        p_start, p_end = int(partition.group(2)), int(partition.group(3))
        assert p_start == sequence - sequence % 64000 and p_end == p_start + 63999
        assert int(partition.group(1), 16) == 0xFFFFFFFF - p_start
        assert path.relative_to(sample.folder).as_posix() == object_key(sequence)
    top = {p.name for p in sample.folder.iterdir()}
    assert top == {".config.json", MARKER_NAME, files[0].parent.name}


def test_object_keys_agree_with_the_datastore_reader() -> None:
    layout = pytest.importorskip("ledgers.sources.layout")
    config = layout.DatastoreConfig(network_passphrase=PUBNET_PASSPHRASE)
    for sequence in (2, 63999, 64000, 53312000):
        assert object_key(sequence) == layout.object_key(sequence, config)
    assert object_key(53312000) == "FCD285FF--53312000-53375999/FCD285FF--53312000.xdr.zst"


def test_every_object_decodes_to_one_consecutive_v2_ledger(sample: SampleInfo) -> None:
    batches = read_batches(sample.folder)
    sequences = []
    for batch in batches:
        assert batch.start_sequence.uint32 == batch.end_sequence.uint32
        assert len(batch.ledger_close_metas) == 1
        meta = batch.ledger_close_metas[0]
        assert meta.v == 2
        header = meta.v2.ledger_header.header
        assert header.ledger_seq.uint32 == batch.start_sequence.uint32
        assert header.ledger_version.uint32 >= 23
        sequences.append(header.ledger_seq.uint32)
    assert sequences == list(range(sample.first_ledger, sample.last_ledger + 1))


def test_header_hash_chain_and_close_times(sample: SampleInfo) -> None:
    previous = None
    for index, meta in enumerate(_metas(sample)):
        entry = meta.ledger_header
        assert entry.hash.hash == hashlib.sha256(entry.header.to_xdr_bytes()).digest()
        if previous is not None:
            assert entry.header.previous_ledger_hash.hash == previous
        assert meta.tx_set.v1_tx_set.previous_ledger_hash.hash == entry.header.previous_ledger_hash.hash
        assert entry.header.scp_value.close_time.time_point.uint64 == START + 5 * index
        assert sample.ledgers[index].ledger_hash == entry.hash.hash.hex()
        previous = entry.hash.hash


def test_header_commits_to_tx_set_and_results(sample: SampleInfo) -> None:
    network_id = hashlib.sha256(PUBNET_PASSPHRASE.encode()).digest()
    for meta in _metas(sample):
        header = meta.ledger_header.header
        tx_set_hash = hashlib.sha256(meta.tx_set.to_xdr_bytes()).digest()
        assert header.scp_value.tx_set_hash.hash == tx_set_hash
        results = x.TransactionResultSet([p.result for p in meta.tx_processing])
        assert header.tx_set_result_hash.hash == hashlib.sha256(results.to_xdr_bytes()).digest()
        # The SCP value signature verifies with the validator key it names.
        signed = header.scp_value.ext.lc_value_signature
        payload = (
            network_id
            + struct.pack(">I", 4)
            + tx_set_hash
            + struct.pack(">Q", header.scp_value.close_time.time_point.uint64)
        )
        Keypair.from_raw_ed25519_public_key(signed.node_id.node_id.ed25519.uint256).verify(
            payload, signed.signature.signature
        )


def test_envelope_hashes_match_results_and_signatures_verify(sample: SampleInfo) -> None:
    network_id = hashlib.sha256(PUBNET_PASSPHRASE.encode()).digest()
    for meta in _metas(sample):
        hashes = []
        for envelope in sdk_envelopes(x.LedgerCloseMeta(2, v2=meta)):
            tx = envelope.v1.tx
            tx_hash = hashlib.sha256(network_id + struct.pack(">I", 2) + tx.to_xdr_bytes()).digest()
            hashes.append(tx_hash)
            source = StrKey.encode_ed25519_public_key(tx.source_account.ed25519.uint256)
            (signature,) = envelope.v1.signatures
            Keypair.from_public_key(source).verify(tx_hash, signature.signature.signature)
        result_hashes = [p.result.transaction_hash.hash for p in meta.tx_processing]
        assert sorted(hashes) == sorted(result_hashes)
        assert len(set(hashes)) == len(hashes)


def test_phases_hold_classic_then_soroban_sorted_by_hash(sample: SampleInfo) -> None:
    for meta in _metas(sample):
        classic, soroban = meta.tx_set.v1_tx_set.phases
        txs = classic.v0_components[0].txs_maybe_discounted_fee.txs
        assert all(e.v1.tx.ext.v == 0 for e in txs)
        clusters = [
            c for s in soroban.parallel_txs_component.execution_stages for c in s.parallel_tx_execution_stage
        ]
        assert all(e.v1.tx.ext.v == 1 for c in clusters for e in c.dependent_tx_cluster)


def test_build_is_deterministic_and_depends_on_the_passphrase() -> None:
    first = [ledger.xdr for ledger in build_sample_ledgers(PUBNET_PASSPHRASE, 2, 2).ledgers]
    again = [ledger.xdr for ledger in build_sample_ledgers(PUBNET_PASSPHRASE, 2, 2).ledgers]
    other = [ledger.xdr for ledger in build_sample_ledgers("Test SDF Network ; September 2015", 2, 2).ledgers]
    assert first == again
    assert first[0] != other[0]


@pytest.mark.parametrize(("first", "count"), [(1, 6), (2, 0)])
def test_bad_arguments_are_refused(first: int, count: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_sample_datastore(tmp_path, first_ledger=first, ledgers=count)
    assert not any(tmp_path.iterdir())
