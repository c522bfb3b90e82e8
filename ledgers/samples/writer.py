"""Write the sample ledgers as a galexie datastore folder (REFERENCE §1), and keep it current cheaply.

Layout, one ledger per object, 64000 objects per partition (the public data lake's settings):
``.config.json`` and ``%08X--<pStart>-<pEnd>/%08X--<seq>.xdr.zst`` where each hex is ``0xFFFFFFFF - start``;
each object is a zstd-compressed ``LedgerCloseMetaBatch`` holding one ``LedgerCloseMeta``.

A marker file (`MARKER_NAME`) records the sample version, the arguments and the `SampleInfo`, and is written
last (while writing, an interim marker without a version says "ours, incomplete"): a folder with a matching
marker and every object present is complete and current, so `ensure_sample_datastore` returns without building
anything. Every file is written to a temporary name and renamed, so a reader never sees half an object.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import zstandard
from stellar_sdk import Network
from stellar_sdk import xdr as x

from .build import BuiltLedger, SampleBuild, build_sample_ledgers
from .info import SampleInfo
from .xdrkit import asset_string

SAMPLE_VERSION = "1"  # bump whenever the scenario or the builders change the bytes written
MARKER_NAME = ".obsrvr-sample.json"
CONFIG_NAME = ".config.json"
LEDGERS_PER_BATCH = 1
BATCHES_PER_PARTITION = 64_000
ZSTD_LEVEL = 3  # zstd's default; the output is identical on every run for a given level
PUBNET_PASSPHRASE = Network.PUBLIC_NETWORK_PASSPHRASE
_MAX = 0xFFFF_FFFF


class SampleFolderError(RuntimeError):
    """The target folder holds a datastore that is not ours; it is never overwritten."""


def object_key(sequence: int) -> str:
    """Key of the object holding `sequence` (one ledger per object, 64000 objects per partition)."""
    size = LEDGERS_PER_BATCH * BATCHES_PER_PARTITION
    start = sequence - sequence % size
    partition = f"{_MAX - start:08X}--{start}-{start + size - 1}"
    return f"{partition}/{_MAX - sequence:08X}--{sequence}.xdr.zst"


def config_document(network_passphrase: str) -> dict[str, Any]:
    """The datastore's ``.config.json``, key names exactly as galexie writes them."""
    return {
        "networkPassphrase": network_passphrase,
        "version": "1.0",
        "compression": "zstd",
        "ledgersPerBatch": LEDGERS_PER_BATCH,
        "batchesPerPartition": BATCHES_PER_PARTITION,
    }


def batch_bytes(ledger: BuiltLedger) -> bytes:
    """The zstd-compressed ``LedgerCloseMetaBatch`` object of one ledger."""
    batch = x.LedgerCloseMetaBatch(x.Uint32(ledger.sequence), x.Uint32(ledger.sequence), [ledger.meta])
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(batch.to_xdr_bytes())


def write_sample_datastore(
    folder: Path, network_passphrase: str = PUBNET_PASSPHRASE, first_ledger: int = 2, ledgers: int = 6
) -> SampleInfo:
    """Build the sample ledgers and write them, with ``.config.json``, as a datastore in `folder`.

    Raises `SampleFolderError` if `folder` holds a datastore config that no sample writer put there.
    """
    folder = Path(folder)
    if (folder / CONFIG_NAME).exists() and not (folder / MARKER_NAME).exists():
        raise SampleFolderError(
            f"{folder} holds a datastore that is not a sample one; refusing to overwrite it"
        )
    build = build_sample_ledgers(network_passphrase, first_ledger, ledgers)
    info = _info(folder, network_passphrase, build)
    keys = [object_key(ledger.sequence) for ledger in build.ledgers]
    old_keys = _marker_objects(_read_marker(folder))
    folder.mkdir(parents=True, exist_ok=True)
    # Until the final marker replaces it, this one says "ours, but incomplete" (so `ensure` rewrites after a crash)
    # and lists every object the folder may hold, so a later write still finds the stale ones.
    _write_json(folder / MARKER_NAME, {"sample_version": None, "objects": sorted(set(old_keys) | set(keys))})
    for key in set(old_keys) - set(keys):
        (folder / key).unlink(missing_ok=True)
    _write_json(folder / CONFIG_NAME, config_document(network_passphrase), sort_keys=False)
    for ledger, key in zip(build.ledgers, keys, strict=True):
        _write_atomic(folder / key, batch_bytes(ledger))
    marker = {
        "sample_version": SAMPLE_VERSION,
        "arguments": _arguments(network_passphrase, first_ledger, ledgers),
        "objects": keys,
        "info": info.to_json(),
    }
    _write_json(folder / MARKER_NAME, marker)
    return info


def ensure_sample_datastore(
    folder: Path, network_passphrase: str = PUBNET_PASSPHRASE, first_ledger: int = 2, ledgers: int = 6
) -> SampleInfo:
    """`write_sample_datastore` unless `folder` already holds this version of the same samples.

    Cheap when current (reads one small JSON file and checks the objects exist), so ``obsrvr-flow dev`` can call
    it on every start.
    """
    folder = Path(folder)
    marker = _read_marker(folder)
    if (
        marker is not None
        and marker.get("sample_version") == SAMPLE_VERSION
        and marker.get("arguments") == _arguments(network_passphrase, first_ledger, ledgers)
        and (folder / CONFIG_NAME).is_file()
        and all((folder / key).is_file() for key in _marker_objects(marker))
    ):
        try:
            return SampleInfo.from_json(folder, marker["info"])
        except (KeyError, TypeError, ValueError):
            pass  # a marker from an older shape: rewrite below
    return write_sample_datastore(folder, network_passphrase, first_ledger, ledgers)


def _arguments(network_passphrase: str, first_ledger: int, ledgers: int) -> dict[str, Any]:
    return {"network_passphrase": network_passphrase, "first_ledger": first_ledger, "ledgers": ledgers}


def _info(folder: Path, network_passphrase: str, build: SampleBuild) -> SampleInfo:
    cast = build.cast
    return SampleInfo(
        version=SAMPLE_VERSION,
        folder=folder,
        network_passphrase=network_passphrase,
        first_ledger=build.ledgers[0].sequence,
        last_ledger=build.ledgers[-1].sequence,
        accounts=dict(cast.accounts),
        contracts=dict(cast.contracts),
        assets={code: asset_string(asset) for code, asset in cast.assets.items()},
        asset_contracts=dict(cast.asset_contracts),
        pools={"EURC/USDC": cast.pool_strkey},
        ledgers=tuple(ledger.counts for ledger in build.ledgers),
    )


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((folder / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _marker_objects(marker: dict[str, Any] | None) -> list[str]:
    """The object keys a marker lists (only plain relative keys: the marker is a file anyone could edit)."""
    objects = marker.get("objects", []) if marker is not None else []
    return [key for key in objects if isinstance(key, str) and ".." not in key and not key.startswith("/")]


def _write_json(path: Path, doc: dict[str, Any], *, sort_keys: bool = True) -> None:
    _write_atomic(path, (json.dumps(doc, indent=2, sort_keys=sort_keys) + "\n").encode())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class GrowingDatastore:
    """A datastore folder the sample ledgers are written into one object at a time, as galexie adds them to a
    lake (temporary name, then a rename): for following the tip in tests, benchmarks and demos.

        lake = GrowingDatastore(folder, ledgers=40)   # built now, nothing written but .config.json
        lake.write(2)                                 # the object of ledger 2 appears
    """

    def __init__(
        self,
        folder: Path,
        network_passphrase: str = PUBNET_PASSPHRASE,
        first_ledger: int = 2,
        ledgers: int = 6,
    ) -> None:
        self.folder = Path(folder)
        self.build = build_sample_ledgers(network_passphrase, first_ledger, ledgers)
        self.by_sequence = {ledger.sequence: ledger for ledger in self.build.ledgers}
        _write_json(self.folder / CONFIG_NAME, config_document(network_passphrase), sort_keys=False)

    @property
    def sequences(self) -> list[int]:
        return sorted(self.by_sequence)

    def write(self, sequence: int) -> None:
        """Write the object of ledger `sequence` (it appears whole, at its rename)."""
        _write_atomic(self.folder / object_key(sequence), batch_bytes(self.by_sequence[sequence]))
