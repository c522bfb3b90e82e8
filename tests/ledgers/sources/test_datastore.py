"""Galexie datastore reader on local folders laid out from real ledgers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import pytest
import zstandard

from ledgers.sources import (
    DatastoreConfig,
    DatastoreSource,
    LedgerNotFound,
    LedgerSource,
    PassphraseMismatch,
    RetryPolicy,
    SourceConfigError,
    SourceDataError,
    SourceUnavailable,
    open_source,
)
from ledgers.sources.blobstore import open_blob_store
from ledgers.sources.fixtures import read_ledger_file
from ledgers.sources.layout import LEGACY_EXTENSION, object_key

from . import (
    PUBNET,
    RECONSTRUCTED_RANGE,
    TESTNET,
    CountingStore,
    FlakyStore,
    batched_objects,
    reconstructed_files,
    reconstructed_ledgers,
    wait_until,
    write_datastore,
)

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.005)
ONE_PER_FILE = DatastoreConfig(network_passphrase=PUBNET, ledgers_per_batch=1, batches_per_partition=64000)
FOUR_PER_FILE = DatastoreConfig(network_passphrase=PUBNET, ledgers_per_batch=4, batches_per_partition=64000)


@pytest.fixture
def one_per_file(shared_ledgers: Path, tmp_path: Path) -> Path:
    """The 12 reconstructed objects, as they are (legacy `.xdr.zstd`), under their computed keys."""
    objects = {}
    for path in reconstructed_files(shared_ledgers):
        ((sequence, _),) = read_ledger_file(path)
        objects[object_key(sequence, ONE_PER_FILE, LEGACY_EXTENSION)] = path.read_bytes()
    return write_datastore(tmp_path / "lake", ONE_PER_FILE, objects)


async def _read(source: LedgerSource, start: int, end: int | None) -> list[tuple[int, bytes]]:
    async with contextlib.aclosing(source.ledgers(start, end)) as ledgers:
        return [item async for item in ledgers]


async def test_reads_the_testbucket_in_place(shared_ledgers: Path) -> None:
    """The corpus keeps galexie's testbucket flattened (no partition folder), so read it unpartitioned."""
    folder = shared_ledgers / "stellar-go" / "testbucket"
    declared = DatastoreConfig.from_json((folder / "config.json").read_bytes())
    flat = DatastoreConfig(network_passphrase=declared.network_passphrase, batches_per_partition=1)
    source = await DatastoreSource.open(str(folder), config=flat)
    ledgers = await _read(source, 997, 999)
    assert [seq for seq, _ in ledgers] == [997, 998, 999]
    expected = [item for name in ("FFFFFC1A--997", "FFFFFC19--998", "FFFFFC18--999")
                for item in read_ledger_file(folder / f"{name}.xdr.zst")]  # fmt: skip
    assert ledgers == expected
    assert source.network_passphrase == TESTNET
    await source.close()


async def test_testbucket_laid_out_as_galexie_does(shared_ledgers: Path, tmp_path: Path) -> None:
    """Upstream's test uploads the testbucket under `FFFFFFFF--0-63999/` with its `.config.json`."""
    folder = shared_ledgers / "stellar-go" / "testbucket"
    config = DatastoreConfig.from_json((folder / "config.json").read_bytes())
    objects = {object_key(s, config): (folder / object_key(s, config).split("/")[1]).read_bytes()
               for s in (997, 998)}  # fmt: skip
    # 999 as the older suffix: a lake written across stellar/go's rename holds both.
    objects[object_key(999, config, LEGACY_EXTENSION)] = (folder / "FFFFFC18--999.xdr.zst").read_bytes()
    root = write_datastore(tmp_path / "testbucket", config, objects)
    source = await open_source(str(root), "testnet")
    assert isinstance(source, DatastoreSource)
    assert [seq for seq, _ in await _read(source, 997, 999)] == [997, 998, 999]
    await source.close()


async def test_one_ledger_per_file_range_in_order(shared_ledgers: Path, one_per_file: Path) -> None:
    source = await open_source(f"file://{one_per_file}", "pubnet")
    assert isinstance(source, DatastoreSource)
    ledgers = await _read(source, RECONSTRUCTED_RANGE[0], RECONSTRUCTED_RANGE[-1])
    originals = reconstructed_ledgers(shared_ledgers)
    assert [seq for seq, _ in ledgers] == RECONSTRUCTED_RANGE
    assert all(raw == originals[seq] for seq, raw in ledgers)
    assert [seq for seq, _ in await _read(source, 30820015, 30820015)] == [30820015]
    assert await source.latest_sequence() == RECONSTRUCTED_RANGE[-1]
    await source.close()


async def test_several_ledgers_per_file(shared_ledgers: Path, tmp_path: Path) -> None:
    originals = reconstructed_ledgers(shared_ledgers)
    objects = batched_objects({s: originals[s] for s in RECONSTRUCTED_RANGE}, FOUR_PER_FILE)
    assert len(objects) == 4  # 30822012-15 (holding 15 only), 16-19, 20-23, 24-27 (holding 24, 25)
    root = write_datastore(tmp_path / "lake4", FOUR_PER_FILE, objects)
    source = await open_source(str(root), "pubnet", prefetch=2)
    ledgers = await _read(source, RECONSTRUCTED_RANGE[0], RECONSTRUCTED_RANGE[-1])
    assert [seq for seq, _ in ledgers] == RECONSTRUCTED_RANGE
    assert all(raw == originals[seq] for seq, raw in ledgers)
    # A range starting and ending inside objects yields just that range.
    assert [seq for seq, _ in await _read(source, 30822018, 30822021)] == [
        30822018,
        30822019,
        30822020,
        30822021,
    ]
    # 30822026 would be in the last object, which does not hold it.
    with pytest.raises(
        LedgerNotFound, match=r"ledger 30822026 .*FE29B177--30822024-30822027.xdr.zst does not hold it"
    ):
        await _read(source, 30822024, 30822026)
    # The tip is the last ledger its name gives the newest object (galexie writes whole batches).
    assert await source.latest_sequence() == 30822027
    await source.close()


async def test_missing_ledger_names_sequence_and_keys(one_per_file: Path) -> None:
    store = CountingStore(open_blob_store(str(one_per_file)))
    source = DatastoreSource(store, ONE_PER_FILE, retry=FAST_RETRY)
    seen: list[int] = []
    with pytest.raises(LedgerNotFound) as caught:
        async for seq, _ in source.ledgers(30822024, 30822027):
            seen.append(seq)
    assert seen == [30822024, 30822025]
    assert caught.value.sequence == 30822026
    assert caught.value.code == "ledger_not_found"
    message = str(caught.value)
    assert "ledger 30822026" in message
    assert "FE2A45FF--30784000-30847999/FE29B175--30822026.xdr.zst" in message  # both suffixes named
    assert "FE29B175--30822026.xdr.zstd" in message
    # "not found" is not retried: one GET per suffix for the missing object.
    assert sum(key.startswith("FE2A45FF--30784000-30847999/FE29B175--") for key in store.keys) == 2


async def test_passphrase_mismatch_is_clear(one_per_file: Path) -> None:
    with pytest.raises(PassphraseMismatch) as caught:
        await open_source(str(one_per_file), "testnet")
    assert str(caught.value) == (
        f"the datastore at {one_per_file} holds the 'Public Global Stellar Network ; September 2015' "
        "network, not testnet"
    )


async def test_prefetch_keeps_at_most_n_requests_in_flight(one_per_file: Path) -> None:
    store = CountingStore(open_blob_store(str(one_per_file)))
    source = DatastoreSource(store, ONE_PER_FILE, prefetch=3)
    ledgers = await _read(source, RECONSTRUCTED_RANGE[0], RECONSTRUCTED_RANGE[-1])
    assert [seq for seq, _ in ledgers] == RECONSTRUCTED_RANGE
    assert store.max_in_flight == 3  # it does fetch ahead, and never more than 3 at once
    assert store.in_flight == 0
    # The first object is asked for with the modern suffix, then the lake's legacy one sticks.
    assert store.keys[0].endswith("--30822015.xdr.zst")
    assert all(key.endswith(".xdr.zstd") for key in store.keys[-8:])


async def test_leaving_early_cancels_the_prefetch(one_per_file: Path) -> None:
    store = CountingStore(open_blob_store(str(one_per_file)))
    source = DatastoreSource(store, ONE_PER_FILE, prefetch=4)
    async with contextlib.aclosing(source.ledgers(RECONSTRUCTED_RANGE[0], None)) as ledgers:
        async for seq, _ in ledgers:
            if seq == RECONSTRUCTED_RANGE[1]:
                break
    assert store.in_flight == 0


async def test_transient_errors_are_retried(one_per_file: Path) -> None:
    store = FlakyStore(open_blob_store(str(one_per_file)), failures=3)
    source = DatastoreSource(store, ONE_PER_FILE, prefetch=2, retry=FAST_RETRY)
    assert [seq for seq, _ in await _read(source, 30822015, 30822018)] == [
        30822015,
        30822016,
        30822017,
        30822018,
    ]
    assert store.failures == 0

    broken = FlakyStore(open_blob_store(str(one_per_file)), failures=1000)
    source = DatastoreSource(broken, ONE_PER_FILE, prefetch=1, retry=FAST_RETRY)
    with pytest.raises(
        SourceUnavailable, match=r"FE29B180--30822015.xdr.zst.* still failing after 4 attempts"
    ):
        await _read(source, 30822015, 30822016)
    assert broken.calls == 4


async def test_follows_the_tip_by_polling(shared_ledgers: Path, tmp_path: Path) -> None:
    originals = reconstructed_ledgers(shared_ledgers)
    objects = batched_objects({s: originals[s] for s in RECONSTRUCTED_RANGE}, ONE_PER_FILE)
    keys = [object_key(s, ONE_PER_FILE) for s in RECONSTRUCTED_RANGE]
    root = write_datastore(tmp_path / "live", ONE_PER_FILE, {k: objects[k] for k in keys[:5]})
    store = CountingStore(open_blob_store(str(root)))
    source = DatastoreSource(store, ONE_PER_FILE, prefetch=4, poll_interval=0.01)
    seen: list[int] = []

    async def follow() -> None:
        async for seq, _ in source.ledgers(RECONSTRUCTED_RANGE[0], None):
            seen.append(seq)

    task = asyncio.create_task(follow())
    try:
        await wait_until(lambda: len(seen) == 5)
        polls = len(store.keys)
        await wait_until(lambda: len(store.keys) >= polls + 6)  # still asking for the next object
        assert store.max_in_flight <= 4
        for key in keys[5:8]:  # galexie writes three more ledgers
            (root / key).write_bytes(objects[key])
        await wait_until(lambda: len(seen) == 8)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen == RECONSTRUCTED_RANGE[:8]
    assert store.in_flight == 0


async def test_corrupt_object_and_missing_config(one_per_file: Path, tmp_path: Path) -> None:
    key = object_key(30822015, ONE_PER_FILE, LEGACY_EXTENSION)
    (one_per_file / key).write_bytes(zstandard.ZstdCompressor().compress(b"\x00\x00\x00\x01not a batch"))
    source = await open_source(str(one_per_file), "pubnet")
    with pytest.raises(
        SourceDataError, match=r"FE29B180--30822015.xdr.zstd is not a zstd LedgerCloseMetaBatch"
    ):
        await _read(source, 30822015, 30822015)
    bare = tmp_path / "bare"
    shutil.copytree(one_per_file, bare)
    (bare / ".config.json").unlink()
    with pytest.raises(SourceConfigError, match=r"no galexie datastore .*\.config\.json does not exist"):
        await DatastoreSource.open(str(bare))


SMALL_PARTITIONS = DatastoreConfig(network_passphrase=PUBNET, ledgers_per_batch=1, batches_per_partition=4)


async def test_tip_is_the_newest_object_of_the_newest_partition(tmp_path: Path) -> None:
    """As galexie's tools find it: the smallest partition name, then the smallest key in it; two or three
    listings whatever the size of the lake, stepping over a newest partition with no object yet and over
    files that are not objects of this layout."""
    objects = {object_key(seq, SMALL_PARTITIONS): b"-" for seq in range(2, 11)}  # partitions 0-3, 4-7, 8-11
    root = write_datastore(tmp_path / "lake", SMALL_PARTITIONS, objects)
    (root / "FFFFFFF3--12-15").mkdir()  # galexie's next partition, nothing in it yet
    newest = root / object_key(10, SMALL_PARTITIONS)
    (newest.parent / f".{newest.name}.tmp-1").write_bytes(b"half")  # an object being written
    (newest.parent / "FFFFFFF4--11.xdr.zst.tmp").write_bytes(b"half")
    (root / "notes").mkdir()
    store = CountingStore(open_blob_store(str(root)))
    source = DatastoreSource(store, SMALL_PARTITIONS, tip_cache_seconds=3600)
    assert await source.latest_sequence() == 10
    assert store.listings == ["", "FFFFFFF3--12-15/", "FFFFFFF7--8-11/"]

    # Cached: a new object is not listed again until the cache expires...
    path = root / object_key(11, SMALL_PARTITIONS)
    path.write_bytes(b"-")
    assert await source.latest_sequence() == 10
    assert len(store.listings) == 3
    source.tip_cache_seconds = 0
    assert await source.latest_sequence() == 11
    # ... and an empty datastore has no tip.
    empty = DatastoreSource(
        open_blob_store(str(write_datastore(tmp_path / "empty", ONE_PER_FILE, {}))), ONE_PER_FILE
    )
    assert await empty.latest_sequence() is None
    await source.close()


async def test_tip_without_partitions_and_moved_by_following(shared_ledgers: Path, tmp_path: Path) -> None:
    """Objects at the root (no partitions) beside `.config.json`; following the tip moves the cached tip
    forward with each object read, with no listing."""
    flat = DatastoreConfig(network_passphrase=PUBNET, ledgers_per_batch=1, batches_per_partition=1)
    originals = reconstructed_ledgers(shared_ledgers)
    first = RECONSTRUCTED_RANGE[0]
    root = write_datastore(tmp_path / "flat", flat, batched_objects({first: originals[first]}, flat))
    store = CountingStore(open_blob_store(str(root)))
    source = DatastoreSource(store, flat, poll_interval=0.01, tip_cache_seconds=3600)
    assert await source.latest_sequence() == first
    later = batched_objects({s: originals[s] for s in RECONSTRUCTED_RANGE[1:4]}, flat)
    for key, data in later.items():
        (root / key).write_bytes(data)
    async with contextlib.aclosing(source.ledgers(first, None)) as ledgers:
        async for seq, _ in ledgers:
            if seq == RECONSTRUCTED_RANGE[3]:
                break
    assert await source.latest_sequence() == RECONSTRUCTED_RANGE[3]
    assert store.listings == [""]
    await source.close()
