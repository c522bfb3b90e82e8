"""Run the scenario: genesis state → one ``LedgerCloseMeta`` per ledger, chained by hash, deterministic.

The same arguments always give the same bytes: keys come from fixed seeds, close times from a fixed start,
and ed25519 signatures are deterministic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from stellar_sdk import xdr as x

from .entries import ContractDataRecord, TtlRecord
from .info import LedgerCounts
from .keys import Cast
from .ledger import HeaderInputs, build_ledger, ledger_hash
from .scenario import genesis, transactions_for
from .state import LedgerState
from .transactions import AppliedTx, TxSpec, apply_transactions
from .xdrkit import sha256

START_TIME = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())  # close time of the first sample ledger
LEDGER_INTERVAL = 5  # seconds between closes, about pubnet's pace
MAX_FIRST_LEDGER = 2**31 - 1  # account sequence numbers are ledger << 32 and must fit an int64


@dataclass(frozen=True)
class BuiltLedger:
    """One sample ledger: its ``LedgerCloseMeta`` and what it holds."""

    sequence: int
    meta: x.LedgerCloseMeta
    counts: LedgerCounts

    @property
    def xdr(self) -> bytes:
        return self.meta.to_xdr_bytes()


@dataclass(frozen=True)
class SampleBuild:
    cast: Cast
    ledgers: tuple[BuiltLedger, ...]


def build_sample_ledgers(network_passphrase: str, first_ledger: int, ledgers: int) -> SampleBuild:
    """Build `ledgers` consecutive sample ledgers starting at `first_ledger` for the network's passphrase."""
    if ledgers < 1:
        raise ValueError(f"ledgers must be at least 1, not {ledgers}")
    if first_ledger + ledgers > MAX_FIRST_LEDGER:
        raise ValueError(f"sample ledgers must end below {MAX_FIRST_LEDGER}")
    chain = LedgerChain(network_passphrase, first_ledger)
    built = [
        chain.close(transactions_for(index, chain.cast), START_TIME + LEDGER_INTERVAL * index)
        for index in range(ledgers)
    ]
    return SampleBuild(chain.cast, tuple(built))


class LedgerChain:
    """The sample network as it closes ledgers one at a time: its state, the hash chain and the fee pool.

    `build_sample_ledgers` closes the scripted ones; `ledgers.samples.network` keeps closing more.
    """

    def __init__(self, network_passphrase: str, first_ledger: int) -> None:
        if first_ledger < 2:
            raise ValueError(f"first_ledger must be at least 2 (ledger 1 is the genesis), not {first_ledger}")
        self.cast = Cast(network_passphrase)
        self.network_id = sha256(network_passphrase.encode())
        self.state = genesis(self.cast, first_ledger - 1)
        self.previous_hash = sha256(b"obsrvr-sample-genesis-" + network_passphrase.encode())
        self.fee_pool = 0
        self.next_sequence = first_ledger
        self.index = 0  # how many ledgers this chain closed (the scenario's ledger index of the next one)

    def close(self, specs: list[TxSpec], close_time: int) -> BuiltLedger:
        """Apply `specs` (in apply order) as the next ledger, closed at `close_time`, and return it."""
        sequence = self.next_sequence
        applied = self._apply(specs, close_time)
        inputs = HeaderInputs(
            sequence,
            close_time,
            self.previous_hash,
            self.fee_pool,
            self.state.id_pool,
            _soroban_state_size(self.state),
        )
        meta = build_ledger(inputs, applied, self.cast)
        self.previous_hash = ledger_hash(meta)
        return BuiltLedger(sequence, meta, _counts(sequence, close_time, self.previous_hash, applied))

    def replay(self, specs: list[TxSpec], close_time: int, ledger_hash_: bytes) -> None:
        """Advance over a ledger already written (its hash is `ledger_hash_`) without building its meta: about
        twice as fast as `close`, for resuming a chain from its datastore."""
        self._apply(specs, close_time)
        self.previous_hash = ledger_hash_

    def _apply(self, specs: list[TxSpec], close_time: int) -> list[AppliedTx]:
        if self.next_sequence >= MAX_FIRST_LEDGER:
            raise ValueError(f"sample ledgers must end below {MAX_FIRST_LEDGER}")
        applied = apply_transactions(
            self.state, specs, self.next_sequence, close_time, self.cast, self.network_id
        )
        self.fee_pool += sum(tx.fee_charged for tx in applied)
        self.next_sequence += 1
        self.index += 1
        return applied


def _soroban_state_size(state: LedgerState) -> int:
    """Bytes of live contract data and TTL entries (the header-adjacent ``totalByteSizeOfLiveSorobanState``)."""
    return sum(
        len(record.entry().to_xdr_bytes())
        for record in state.records.values()
        if isinstance(record, ContractDataRecord | TtlRecord)
    )


def _topic(event: x.ContractEvent) -> str:
    assert event.body.v0 is not None
    first = event.body.v0.topics[0]
    return first.sym.sc_symbol.decode() if first.sym is not None else str(first.type.name)


def _counts(sequence: int, close_time: int, hash_: bytes, applied: list[AppliedTx]) -> LedgerCounts:
    ops: Counter[str] = Counter()
    events: Counter[str] = Counter()
    for tx in applied:
        ops.update(op.body.type.name for op in _envelope_ops(tx))
        events.update(_topic(tx_event.event) for tx_event in tx.events)
        events.update(_topic(event) for meta in tx.operations for event in meta.events)
    return LedgerCounts(
        sequence=sequence,
        close_time=close_time,
        ledger_hash=hash_.hex(),
        transactions=len(applied),
        failed_transactions=sum(1 for tx in applied if not tx.successful),
        operations_by_type=dict(sorted(ops.items())),
        events_by_topic=dict(sorted(events.items())),
    )


def _envelope_ops(tx: AppliedTx) -> list[x.Operation]:
    assert tx.envelope.v1 is not None
    return list(tx.envelope.v1.tx.operations)
