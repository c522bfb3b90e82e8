"""Galexie datastore layout: the root config and the object key of each ledger. Pure functions only.

Key of the object holding ledger `s` (stellar/go `DataStoreSchema.GetObjectKeyFromSequenceNumber`):
`fileStart = s - s % ledgersPerBatch`; when `batchesPerPartition > 1` the object sits in the partition folder
`%08X--<pStart>-<pEnd>/` (`pStart = s - s % (ledgersPerBatch * batchesPerPartition)`); the file is
`%08X--<fileStart>[-<fileEnd>]<extension>`, `-<fileEnd>` only when `ledgersPerBatch > 1`. Each hex is
`0xFFFFFFFF - start`, so newer ledgers sort first in a listing. Example (1 per file, 64000 per partition):
53312000 → `FCD285FF--53312000-53375999/FCD285FF--53312000.xdr.zst`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MODERN_EXTENSION = ".xdr.zst"
LEGACY_EXTENSION = ".xdr.zstd"  # lakes written before stellar/go renamed the suffix
EXTENSIONS = (MODERN_EXTENSION, LEGACY_EXTENSION)
CONFIG_NAME = ".config.json"  # galexie's manifest at the datastore root
MAX_SEQUENCE = 0xFFFF_FFFF


@dataclass(frozen=True)
class DatastoreConfig:
    """The datastore's root `.config.json` (galexie's manifest), key names exactly as galexie writes them."""

    network_passphrase: str | None = None
    version: str = "1.0"
    compression: str = "zstd"
    ledgers_per_batch: int = 1
    batches_per_partition: int = 64000

    def __post_init__(self) -> None:
        if self.ledgers_per_batch < 1:
            raise ValueError(f"ledgersPerBatch must be at least 1, not {self.ledgers_per_batch}")
        if self.batches_per_partition < 0:
            raise ValueError(f"batchesPerPartition must not be negative, not {self.batches_per_partition}")
        if self.compression != "zstd":
            raise ValueError(f"compression {self.compression!r} is not supported (only zstd)")

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> DatastoreConfig:
        """Parse the config document; raises `ValueError` naming the bad key."""
        doc = json.loads(data) if isinstance(data, bytes | str) else data
        if not isinstance(doc, Mapping):
            raise ValueError("the datastore config is not a JSON object")
        try:
            return cls(
                network_passphrase=_opt_str(doc, "networkPassphrase"),
                version=str(doc.get("version", "1.0")),
                compression=str(doc.get("compression", "zstd")),
                ledgers_per_batch=_int(doc, "ledgersPerBatch", 1),
                batches_per_partition=_int(doc, "batchesPerPartition", 64000),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid datastore config: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(
            {
                "networkPassphrase": self.network_passphrase,
                "version": self.version,
                "compression": self.compression,
                "ledgersPerBatch": self.ledgers_per_batch,
                "batchesPerPartition": self.batches_per_partition,
            },
            indent=2,
        )


def _opt_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _int(doc: Mapping[str, Any], key: str, default: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer, not {value!r}")
    return value


def batch_start(sequence: int, config: DatastoreConfig) -> int:
    """First ledger of the object holding `sequence`."""
    return sequence - sequence % config.ledgers_per_batch


def batch_end(sequence: int, config: DatastoreConfig) -> int:
    """Last ledger of the object holding `sequence`."""
    return batch_start(sequence, config) + config.ledgers_per_batch - 1


def partition_folder(sequence: int, config: DatastoreConfig) -> str | None:
    """`%08X--<pStart>-<pEnd>` of the partition holding `sequence`, or None without partitions."""
    if config.batches_per_partition <= 1:
        return None
    size = config.ledgers_per_batch * config.batches_per_partition
    start = sequence - sequence % size
    return f"{MAX_SEQUENCE - start:08X}--{start}-{start + size - 1}"


def object_key(sequence: int, config: DatastoreConfig, extension: str = MODERN_EXTENSION) -> str:
    """Key (relative to the datastore root) of the object holding ledger `sequence`."""
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"ledger sequence {sequence} is outside 0..{MAX_SEQUENCE}")
    start = batch_start(sequence, config)
    name = f"{MAX_SEQUENCE - start:08X}--{start}"
    if config.ledgers_per_batch > 1:
        name += f"-{start + config.ledgers_per_batch - 1}"
    folder = partition_folder(sequence, config)
    return f"{folder}/{name}{extension}" if folder else f"{name}{extension}"


def batch_starts(start: int, end: int | None, config: DatastoreConfig) -> Iterator[int]:
    """First ledger of every object covering `start..end` (endless when `end` is None), in order."""
    if end is not None and end < start:
        return
    current = batch_start(start, config)
    last = MAX_SEQUENCE if end is None else min(end, MAX_SEQUENCE)
    while current <= last:
        yield current
        current += config.ledgers_per_batch


_NAME = re.compile(r"(?P<hex>[0-9A-F]{8})--(?P<low>\d+)(?:-(?P<high>\d+))?(?P<ext>\.xdr\.zstd?)")


def is_partition_folder(name: str, config: DatastoreConfig) -> bool:
    """Whether `name` is the folder `partition_folder` gives for its own first ledger."""
    match = re.fullmatch(r"[0-9A-F]{8}--(\d+)-\d+", name)
    return match is not None and partition_folder(int(match.group(1)), config) == name


def object_range(key: str, config: DatastoreConfig) -> tuple[int, int] | None:
    """`(first, last)` ledger of the object at `key`, or None when `key` is not where `object_key` puts an
    object of this datastore (a temporary file, another layout, anything else found in a listing).

    The range comes from the key, as galexie's own tools read it (`ParseRangeFromObjectKey`): the last ledger
    of a batch object is in its name when `ledgersPerBatch > 1`, else it equals the first.
    """
    match = _NAME.fullmatch(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    first = int(match.group("low"))
    if first > MAX_SEQUENCE or object_key(first, config, match.group("ext")) != key:
        return None
    return first, batch_end(first, config)
