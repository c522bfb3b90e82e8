"""Helpers shared by the ledger source tests: datastore layouts built from real corpus ledgers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import zstandard

from ledgers.sources.blobstore import BlobStore, TransientBlobError
from ledgers.sources.fixtures import read_ledger_file
from ledgers.sources.layout import CONFIG_NAME, MODERN_EXTENSION, DatastoreConfig, batch_start, object_key
from ledgers.sources.xdr import pack_batch

PUBNET = "Public Global Stellar Network ; September 2015"
TESTNET = "Test SDF Network ; September 2015"
RECONSTRUCTED_RANGE = list(range(30822015, 30822026))  # 11 consecutive ledgers; 30820015 stands alone


def reconstructed_files(shared: Path) -> list[Path]:
    return sorted((shared / "stellar-etl" / "reconstructed").glob("*.xdr.zstd"))


def reconstructed_ledgers(shared: Path) -> dict[int, bytes]:
    """The 12 reconstructed pubnet ledgers as `{sequence: LedgerCloseMeta XDR}`."""
    out: dict[int, bytes] = {}
    for path in reconstructed_files(shared):
        out.update(read_ledger_file(path))
    return out


def batched_objects(
    ledgers: dict[int, bytes], config: DatastoreConfig, extension: str = MODERN_EXTENSION
) -> dict[str, bytes]:
    """A datastore's objects (`key -> zstd LedgerCloseMetaBatch`) packing `ledgers` as galexie would.

    Batches at the edges of the corpus hold only the ledgers we have (galexie's would be full).
    """
    groups: dict[int, list[int]] = {}
    for seq in sorted(ledgers):
        groups.setdefault(batch_start(seq, config), []).append(seq)
    compressor = zstandard.ZstdCompressor()
    return {
        object_key(first, config, extension): compressor.compress(pack_batch([ledgers[s] for s in seqs]))
        for first, seqs in groups.items()
    }


def write_datastore(root: Path, config: DatastoreConfig, objects: dict[str, bytes]) -> Path:
    """Write `.config.json` and the objects under `root`, as galexie lays out a local datastore."""
    root.mkdir(parents=True, exist_ok=True)
    (root / CONFIG_NAME).write_text(config.to_json())
    for key, data in objects.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


async def wait_until(condition: Callable[[], bool], attempts: int = 1000) -> None:
    """Yield to the event loop until `condition()` holds (fails after ~10 s, never measures time)."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


class CountingStore:
    """Wraps a real store and records the requests in flight, to check the prefetch bound."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.in_flight = 0
        self.max_in_flight = 0
        self.keys: list[str] = []
        self.listings: list[str] = []  # the prefix of every listing, in order

    async def get(self, key: str) -> bytes:
        self.keys.append(key)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # Hand control back before the real read, so every fetch the reader started is counted as in
            # flight together however fast the local disk answers.
            await asyncio.sleep(0)
            return await self.inner.get(key)
        finally:
            self.in_flight -= 1

    async def folders(self, prefix: str) -> list[str]:
        self.listings.append(prefix)
        return await self.inner.folders(prefix)

    async def first_keys(self, prefix: str, limit: int) -> list[str]:
        self.listings.append(prefix)
        return await self.inner.first_keys(prefix, limit)

    async def close(self) -> None:
        await self.inner.close()


class FlakyStore:
    """Wraps a real store and fails the first `failures` object reads with a transient error."""

    def __init__(self, inner: BlobStore, failures: int, *, only: Callable[[str], bool] | None = None) -> None:
        self.inner = inner
        self.url = inner.url
        self.failures = failures
        self.only = only or (lambda key: not key.endswith(CONFIG_NAME))
        self.calls = 0

    async def get(self, key: str) -> bytes:
        self.calls += 1
        if self.failures > 0 and self.only(key):
            self.failures -= 1
            raise TransientBlobError(f"{key}: connection reset by peer (injected)")
        return await self.inner.get(key)

    async def folders(self, prefix: str) -> list[str]:
        return await self.inner.folders(prefix)

    async def first_keys(self, prefix: str, limit: int) -> list[str]:
        return await self.inner.first_keys(prefix, limit)

    async def close(self) -> None:
        await self.inner.close()
