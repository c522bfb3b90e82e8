"""A small simulated network: the sample datastore keeps growing, one valid ledger at a time.

``obsrvr-flow dev`` runs one so that a newcomer sees live data: after the scripted sample ledgers
(`ensure_sample_datastore`), each `SimulatedNetwork.close_next` builds the next ``LedgerCloseMeta`` (consecutive
sequence, close time after the previous one, header chained by hash, transactions from `ledgers.samples.live`)
and writes it into the same galexie datastore folder the way galexie adds an object to a lake (temporary name,
then rename), where the live tail reads it like any other.

    network = SimulatedNetwork.resume(folder, seed=0)   # samples written if missing; continues after the last
    built = network.close_next()                        # ledger network.last_ledger + 1 is now in the folder

Resuming replays the chain's transactions from the genesis (they depend only on the seed and the sequence, see
`ledgers.samples.live`) to rebuild the state (about 15 ms a ledger), and takes the hash of the last ledger written
from the folder, so the next header points at it. A marker (`NETWORK_MARKER`) records the seed and the last
scripted sample's hash: a folder grown with another seed, or over samples of another version, has its
simulated ledgers removed and starts again after the samples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard
from stellar_sdk import xdr as x

from .build import LEDGER_INTERVAL, START_TIME, BuiltLedger, LedgerChain, ledger_hash
from .info import SampleInfo
from .live import live_transactions
from .scenario import SCRIPTS, transactions_for
from .transactions import TxSpec
from .writer import (
    PUBNET_PASSPHRASE,
    _write_atomic,
    _write_json,
    batch_bytes,
    ensure_sample_datastore,
    object_key,
)

NETWORK_MARKER = ".obsrvr-network.json"


class SimulatedNetwork:
    """The sample chain of one datastore folder, closing new ledgers on request (not thread-safe: one writer)."""

    def __init__(
        self, folder: Path, info: SampleInfo, chain: LedgerChain, seed: int, last_close: int
    ) -> None:
        self.folder = folder
        self.info = info
        self.seed = seed
        self._chain = chain
        self._last_close = last_close

    @property
    def last_ledger(self) -> int:
        """The newest ledger in the folder."""
        return self._chain.next_sequence - 1

    @classmethod
    def resume(
        cls, folder: Path, *, seed: int = 0, network_passphrase: str = PUBNET_PASSPHRASE
    ) -> SimulatedNetwork:
        """The network of `folder`, after its newest consecutive ledger (the samples are written if missing)."""
        folder = Path(folder)
        info = ensure_sample_datastore(folder, network_passphrase)
        anchor = info.ledgers[-1].ledger_hash
        marker = _read(folder / NETWORK_MARKER)
        if marker.get("seed") != seed or marker.get("samples_hash") != anchor:
            _remove_after(folder, info.last_ledger)
            _write_json(folder / NETWORK_MARKER, {"seed": seed, "samples_hash": anchor})
        chain = LedgerChain(network_passphrase, info.first_ledger)
        last = info.last_ledger
        while (folder / object_key(last + 1)).is_file():
            last += 1
        last_close = START_TIME
        for sequence in range(info.first_ledger, last + 1):
            close_time = START_TIME + LEDGER_INTERVAL * chain.index
            if (
                sequence == last
            ):  # only the newest one is read back: its hash and close time continue the chain
                header = _stored_ledger(folder, sequence)
                chain.replay(_specs(chain, seed), close_time, ledger_hash(header))
                last_close = _close_time(header)
            else:
                chain.replay(_specs(chain, seed), close_time, b"")
        return cls(folder, info, chain, seed, last_close)

    def close_next(self, close_time: int | None = None) -> BuiltLedger:
        """Build and write the next ledger, closed at `close_time` (default: now, or just after the previous one
        if the clock is behind it), and return it."""
        when = max(self._last_close + 1, int(time.time()) if close_time is None else close_time)
        built = self._chain.close(_specs(self._chain, self.seed), when)
        _write_atomic(self.folder / object_key(built.sequence), batch_bytes(built))
        self._last_close = when
        return built

    def run(self, every_seconds: float, stopped: Callable[[float], bool]) -> None:
        """Close a ledger every `every_seconds` until `stopped(timeout)` (e.g. `threading.Event.wait`) is true."""
        while not stopped(every_seconds):
            self.close_next()


def _specs(chain: LedgerChain, seed: int) -> list[TxSpec]:
    if chain.index < len(SCRIPTS):
        return transactions_for(chain.index, chain.cast)
    return live_transactions(seed, chain.next_sequence, chain.cast, chain.state)


def _stored_ledger(folder: Path, sequence: int) -> x.LedgerCloseMeta:
    data = (
        zstandard.ZstdDecompressor().decompressobj().decompress((folder / object_key(sequence)).read_bytes())
    )
    return x.LedgerCloseMetaBatch.from_xdr_bytes(data).ledger_close_metas[0]


def _close_time(meta: x.LedgerCloseMeta) -> int:
    assert meta.v2 is not None
    return int(meta.v2.ledger_header.header.scp_value.close_time.time_point.uint64)


def _remove_after(folder: Path, last_sample: int) -> None:
    sequence = last_sample + 1
    while (folder / object_key(sequence)).is_file():
        (folder / object_key(sequence)).unlink()
        sequence += 1


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
