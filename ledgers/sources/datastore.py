"""Galexie datastore reader: zstd `LedgerCloseMetaBatch` objects on a local folder, S3 or GCS.

Objects are fetched ahead of the consumer by a bounded prefetch (at most `prefetch` requests in flight,
delivered in ledger order), each with retries and exponential backoff on transient errors. A missing
object ends a bounded range with `LedgerNotFound`; when following the tip (`end=None`) it means "not
written yet", so the reader waits `poll_interval` and asks again for that one object.

The tip (`latest_sequence`) is found as galexie's tools find it (stellar/go `FindLatestLedgerSequence`):
keys are named after `0xFFFFFFFF - start`, so the newest partition is the smallest folder name and the
newest object the smallest key in it; two or three list requests, none of them a full scan. The answer is
cached for `tip_cache_seconds` and moved forward by every object read while following.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from core.settings import NETWORK_PASSPHRASES, Network

from .base import RetryPolicy, retrying
from .blobstore import (
    BlobAccessError,
    BlobNotFoundError,
    BlobStore,
    TransientBlobError,
    open_blob_store,
)
from .errors import LedgerNotFound, PassphraseMismatch, SourceConfigError, SourceDataError
from .layout import (
    CONFIG_NAME,
    EXTENSIONS,
    DatastoreConfig,
    batch_end,
    batch_starts,
    is_partition_folder,
    object_key,
    object_range,
)
from .xdr import peek_header, split_batch, zstd_decompress

log = logging.getLogger(__name__)

DEFAULT_PREFETCH = 8
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_TIP_CACHE_SECONDS = 10.0
TIP_PARTITIONS = 3  # newest partitions looked into for an object (the newest may hold none yet)
TIP_KEYS = 50  # keys asked for per listing: enough to step over temporary files and the root config
OTHER_EXTENSION_EVERY = 8  # at the tip, the suffix not in use is asked for once every this many polls


@dataclass(frozen=True)
class _Object:
    key: str
    ledgers: list[tuple[int, bytes]]


@dataclass(frozen=True)
class _Missing:
    keys: tuple[str, ...] = field(default_factory=tuple)


class DatastoreSource:
    """`LedgerSource` over a galexie datastore (see `layout` for the object keys).

    Build it with `await DatastoreSource.open(url, ...)`, which reads the root `.config.json`.
    """

    def __init__(
        self,
        store: BlobStore,
        config: DatastoreConfig,
        *,
        prefetch: int = DEFAULT_PREFETCH,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        retry: RetryPolicy | None = None,
        tip_cache_seconds: float = DEFAULT_TIP_CACHE_SECONDS,
    ) -> None:
        if prefetch < 1:
            raise SourceConfigError(f"prefetch must be at least 1, not {prefetch}")
        self.store = store
        self.config = config
        self.prefetch = prefetch
        self.poll_interval = poll_interval
        self.retry = retry or RetryPolicy()
        self.tip_cache_seconds = tip_cache_seconds
        # Which suffix this lake uses (`.xdr.zst` or the older `.xdr.zstd`) is learnt as objects are found.
        self._extension: str | None = None
        self._tip: int | None = None  # the newest ledger seen, listed or read
        self._tip_listed_at = float("-inf")  # monotonic time of the last listing

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        config: DatastoreConfig | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        retry: RetryPolicy | None = None,
        tip_cache_seconds: float = DEFAULT_TIP_CACHE_SECONDS,
        endpoint: str | None = None,
        region: str | None = None,
        skip_signature: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        request_timeout: float = 60.0,
    ) -> DatastoreSource:
        """Open the datastore at `url` (path, `file://`, `s3://`, `gs://`); `config` skips `.config.json`."""
        store = open_blob_store(
            url,
            endpoint=endpoint,
            region=region,
            skip_signature=skip_signature,
            storage_options=storage_options,
            request_timeout=request_timeout,
        )
        source = cls(
            store,
            config or DatastoreConfig(),
            prefetch=prefetch,
            poll_interval=poll_interval,
            retry=retry,
            tip_cache_seconds=tip_cache_seconds,
        )
        if config is None:
            source.config = await source._read_config()
        return source

    @property
    def network_passphrase(self) -> str | None:
        return self.config.network_passphrase

    def check_network(self, network: Network | str) -> None:
        """Raise `PassphraseMismatch` unless the datastore's config declares `network`'s passphrase."""
        expected = NETWORK_PASSPHRASES[Network(network)]
        actual = self.config.network_passphrase
        if actual is None:
            log.warning(
                "the datastore at %s declares no network passphrase; assuming %s", self.store.url, network
            )
        elif actual != expected:
            raise PassphraseMismatch(
                f"the datastore at {self.store.url} holds the {actual!r} network, not {Network(network)}"
            )

    async def _read_config(self) -> DatastoreConfig:
        try:
            raw = await self._get(CONFIG_NAME)
        except BlobNotFoundError:
            raise SourceConfigError(
                f"no galexie datastore at {self.store.url}: {CONFIG_NAME} does not exist "
                "(pass config=DatastoreConfig(...) to read a datastore without one)"
            ) from None
        try:
            return DatastoreConfig.from_json(raw)
        except ValueError as exc:
            raise SourceConfigError(f"{self.store.url}/{CONFIG_NAME}: {exc}") from exc

    async def _get(self, key: str) -> bytes:
        return await self._retrying(lambda: self.store.get(key), f"reading {key} from {self.store.url}")

    async def _retrying(self, call: Any, what: str) -> Any:
        try:
            return await retrying(call, policy=self.retry, transient=(TransientBlobError,), what=what)
        except BlobAccessError as exc:
            raise SourceConfigError(str(exc)) from exc

    async def _fetch(self, first: int, *, polling: int = 0) -> _Object | _Missing:
        """Fetch and split the object whose first ledger is `first` (`polling`: how many times it was missing)."""
        # The suffix that worked last goes first, so a lake costs one GET per object; the other is still
        # tried because lakes written across stellar/go's rename mix both. Polling at the tip, it is asked for
        # only now and then, so each poll costs one request.
        extensions = tuple(sorted(EXTENSIONS, key=lambda ext: ext != self._extension))
        if polling and self._extension is not None and polling % OTHER_EXTENSION_EVERY:
            extensions = extensions[:1]
        keys = tuple(object_key(first, self.config, ext) for ext in extensions)
        for key, extension in zip(keys, extensions, strict=True):
            try:
                data = await self._get(key)
            except BlobNotFoundError:
                continue
            self._extension = extension
            # zstd and the batch split hold the event loop for milliseconds per MB; a thread keeps the
            # other prefetches (and the consumer) moving meanwhile.
            ledgers = await asyncio.to_thread(_decode_object, data, key, first, self.config)
            if ledgers:
                self._tip = max(self._tip or 0, ledgers[-1][0])
            return _Object(key, ledgers)
        return _Missing(keys)

    async def ledgers(self, start: int, end: int | None) -> AsyncGenerator[tuple[int, bytes], None]:
        """Yield `(sequence, LedgerCloseMeta XDR)` for `start..end`; `end=None` follows the tip."""
        if end is not None and end < start:
            return
        follow = end is None
        expected = start
        starts = batch_starts(start, end, self.config)
        pending: deque[tuple[int, asyncio.Task[_Object | _Missing]]] = deque()
        window = self.prefetch  # shrinks to 1 at the tip, so polling asks for one object, not `prefetch`
        polls = 0  # how many times in a row the next object was missing
        try:
            while True:
                while len(pending) < window and (first := next(starts, None)) is not None:
                    fetch = self._fetch(first, polling=polls if not pending else 0)
                    pending.append((first, asyncio.create_task(fetch)))
                if not pending:
                    return
                first, task = pending.popleft()
                result = await task
                if isinstance(result, _Missing):
                    if not follow:
                        raise self._not_found(expected, result.keys)
                    # Not written yet: the objects after it cannot exist either, so drop those fetches,
                    # wait, then ask for this one object again.
                    await _cancel(pending)
                    starts = batch_starts(first, None, self.config)
                    window = 1
                    polls += 1
                    if polls == 1:
                        log.debug(
                            "ledger %d not in %s yet; polling every %.2fs",
                            expected,
                            self.store.url,
                            self.poll_interval,
                        )
                    await asyncio.sleep(self.poll_interval)
                    continue
                polls = 0
                window = min(self.prefetch, window * 2)
                for sequence, raw in result.ledgers:
                    if sequence < expected or (end is not None and sequence > end):
                        continue
                    if sequence != expected:
                        break
                    yield sequence, raw
                    expected += 1
                last_needed = batch_end(first, self.config)
                if end is not None:
                    last_needed = min(last_needed, end)
                if expected <= last_needed:
                    raise self._not_found(expected, (result.key,), inside=True)
        finally:
            await _cancel(pending)

    def _not_found(self, sequence: int, keys: tuple[str, ...], *, inside: bool = False) -> LedgerNotFound:
        where = " or ".join(keys)
        reason = f"object {where} does not hold it" if inside else f"object {where} does not exist"
        return LedgerNotFound(
            f"ledger {sequence} is not in the datastore at {self.store.url}: {reason}",
            sequence=sequence,
            details={"keys": list(keys)},
        )

    async def latest_sequence(self) -> int | None:
        """The last ledger of the newest object (None for an empty datastore), listed at most once every
        `tip_cache_seconds`; objects read meanwhile move it forward without a listing."""
        if time.monotonic() - self._tip_listed_at >= self.tip_cache_seconds:
            listed = await self._retrying(self._list_tip, f"finding the newest object at {self.store.url}")
            self._tip_listed_at = time.monotonic()
            if listed is not None:
                self._tip = max(self._tip or 0, listed)
        return self._tip

    async def _list_tip(self) -> int | None:
        """The newest object's last ledger, from listings: the newest partitions first, then their first keys."""
        if self.config.batches_per_partition <= 1:
            return self._newest(await self.store.first_keys("", TIP_KEYS))
        names = await self.store.folders("")
        partitions = sorted(name for name in names if is_partition_folder(name, self.config))
        for partition in partitions[:TIP_PARTITIONS]:
            newest = self._newest(await self.store.first_keys(partition + "/", TIP_KEYS))
            if newest is not None:
                return newest
        return None

    def _newest(self, keys: list[str]) -> int | None:
        """The last ledger of the newest object among `keys` (others are skipped, as galexie does)."""
        ranges = [found for key in keys if (found := object_range(key, self.config)) is not None]
        return max((last for _, last in ranges), default=None)

    async def close(self) -> None:
        await self.store.close()


async def _cancel(pending: deque[tuple[int, asyncio.Task[Any]]]) -> None:
    tasks = [task for _, task in pending]
    pending.clear()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _decode_object(data: bytes, key: str, first: int, config: DatastoreConfig) -> list[tuple[int, bytes]]:
    """Decompress and split one datastore object into `(sequence, LCM XDR)` pairs, checking sequences."""
    try:
        start, end, lcms = split_batch(zstd_decompress(data))
        ledgers = [(peek_header(lcm).sequence, lcm) for lcm in lcms]
    except Exception as exc:  # zstd and XDR errors of a corrupt object come in many types
        raise SourceDataError(f"object {key} is not a zstd LedgerCloseMetaBatch: {exc}") from exc
    sequences = [seq for seq, _ in ledgers]
    if sequences != list(range(start, start + len(ledgers))) or end != start + len(ledgers) - 1:
        raise SourceDataError(f"object {key} declares ledgers {start}-{end} but holds {sequences[:5]}...")
    if start < first or end > batch_end(first, config):
        raise SourceDataError(
            f"object {key} holds ledgers {start}-{end}, outside its key's {first}-{batch_end(first, config)}"
        )
    return ledgers
