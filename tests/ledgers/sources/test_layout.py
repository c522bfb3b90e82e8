"""Galexie object keys and config: pure functions, checked against published examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgers.sources.layout import (
    LEGACY_EXTENSION,
    DatastoreConfig,
    batch_end,
    batch_start,
    batch_starts,
    object_key,
    partition_folder,
)

PUBLIC_LAKE = DatastoreConfig(ledgers_per_batch=1, batches_per_partition=64000)


def test_readme_example_of_the_public_lake() -> None:
    assert object_key(53312000, PUBLIC_LAKE) == "FCD285FF--53312000-53375999/FCD285FF--53312000.xdr.zst"
    assert partition_folder(53312000, PUBLIC_LAKE) == "FCD285FF--53312000-53375999"
    # The same ledger further into its partition keeps the partition folder and gets its own file.
    assert object_key(53312001, PUBLIC_LAKE) == "FCD285FF--53312000-53375999/FCD285FE--53312001.xdr.zst"


@pytest.mark.parametrize(
    ("per_partition", "sequence", "per_batch", "expected"),
    [
        # stellar/go support/datastore TestGetObjectKeyFromSequenceNumber (suffix swapped for ours)
        (0, 5, 1, "FFFFFFFA--5.xdr.zst"),
        (0, 5, 10, "FFFFFFFF--0-9.xdr.zst"),
        (2, 10, 100, "FFFFFFFF--0-199/FFFFFFFF--0-99.xdr.zst"),
        (2, 150, 50, "FFFFFF9B--100-199/FFFFFF69--150-199.xdr.zst"),
        (2, 300, 200, "FFFFFFFF--0-399/FFFFFF37--200-399.xdr.zst"),
        (2, 1, 1, "FFFFFFFF--0-1/FFFFFFFE--1.xdr.zst"),
        (4, 10, 100, "FFFFFFFF--0-399/FFFFFFFF--0-99.xdr.zst"),
        (4, 250, 50, "FFFFFF37--200-399/FFFFFF05--250-299.xdr.zst"),
        (1, 300, 200, "FFFFFF37--200-399.xdr.zst"),
        (1, 1, 1, "FFFFFFFE--1.xdr.zst"),
    ],
)
def test_keys_for_many_configs(per_partition: int, sequence: int, per_batch: int, expected: str) -> None:
    config = DatastoreConfig(ledgers_per_batch=per_batch, batches_per_partition=per_partition)
    assert object_key(sequence, config) == expected


def test_one_versus_many_ledgers_per_file() -> None:
    many = DatastoreConfig(ledgers_per_batch=4, batches_per_partition=64000)
    # Every ledger of a 4-ledger batch maps to the same object, whose name carries the batch's end.
    keys = {object_key(s, many) for s in range(30822016, 30822020)}
    # partitions span 4 * 64000 ledgers: 30822016 - 30822016 % 256000 = 30720000 = 0xFFFFFFFF - 0xFE2B3FFF
    assert keys == {"FE2B3FFF--30720000-30975999/FE29B17F--30822016-30822019.xdr.zst"}
    assert (batch_start(30822018, many), batch_end(30822018, many)) == (30822016, 30822019)
    assert object_key(30822015, many).endswith("/FE29B183--30822012-30822015.xdr.zst")
    flat = DatastoreConfig(ledgers_per_batch=4, batches_per_partition=1)
    assert object_key(30822018, flat) == "FE29B17F--30822016-30822019.xdr.zst"


def test_reconstructed_file_names_are_the_computed_keys(shared_ledgers: Path) -> None:
    """The corpus's datastore-named files agree with our key function (legacy `.xdr.zstd` suffix)."""
    names = sorted(p.name for p in (shared_ledgers / "stellar-etl" / "reconstructed").iterdir())
    flat = DatastoreConfig(ledgers_per_batch=1, batches_per_partition=1)
    computed = sorted(object_key(int(n.split("--")[1].split(".")[0]), flat, LEGACY_EXTENSION) for n in names)
    assert computed == names
    assert object_key(53312000, flat, LEGACY_EXTENSION) == "FCD285FF--53312000.xdr.zstd"
    assert (shared_ledgers / "stellar-go" / "compressxdr" / "FCD285FF--53312000.xdr.zstd").is_file()
    # testbucket: 997-999 with one ledger per file, inside partition 0-63999
    testbucket = DatastoreConfig.from_json(
        (shared_ledgers / "stellar-go/testbucket/config.json").read_bytes()
    )
    assert object_key(997, testbucket) == "FFFFFFFF--0-63999/FFFFFC1A--997.xdr.zst"
    stored = {p.name for p in (shared_ledgers / "stellar-go" / "testbucket").glob("*.xdr.zst")}
    assert {object_key(s, testbucket).split("/")[1] for s in (997, 998, 999)} == stored


def test_config_uses_galexie_key_names(shared_ledgers: Path) -> None:
    raw = (shared_ledgers / "stellar-go" / "testbucket" / "config.json").read_bytes()
    config = DatastoreConfig.from_json(raw)
    assert config == DatastoreConfig(
        network_passphrase="Test SDF Network ; September 2015",
        version="1.0",
        compression="zstd",
        ledgers_per_batch=1,
        batches_per_partition=64000,
    )
    assert json.loads(config.to_json()) == json.loads(raw)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"ledgersPerBatch": "64"}, "ledgersPerBatch must be an integer"),
        ({"ledgersPerBatch": 0}, "ledgersPerBatch must be at least 1"),
        ({"compression": "gzip"}, "only zstd"),
        ({"networkPassphrase": 7}, "networkPassphrase must be a string"),
    ],
)
def test_bad_config_names_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatastoreConfig.from_json(doc)


def test_batch_starts_walks_objects_in_order() -> None:
    config = DatastoreConfig(ledgers_per_batch=4, batches_per_partition=1)
    assert list(batch_starts(30822015, 30822025, config)) == [30822012, 30822016, 30822020, 30822024]
    endless = batch_starts(6, None, config)
    assert [next(endless) for _ in range(3)] == [4, 8, 12]
    assert list(batch_starts(10, 9, config)) == []
