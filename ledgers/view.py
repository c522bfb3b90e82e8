# mypy: disable-error-code="union-attr,arg-type"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""`LedgerView`: the one accessor layer over ``LedgerCloseMeta`` v0/v1/v2 and transaction meta v0-v4.

A ledger is decoded once (stellar-sdk today) and every processor reads it through this view and the small
types of `ledgers.model`; nothing else in the service knows XDR versions. The header is read eagerly (it is
tiny); transactions are built on first access of `LedgerView.transactions`, and each transaction's
operations, entry changes and events on first access of those (see `ledgers.model`), so a processor that
reads only events never pays for entry conversion.

Envelopes are not stored in apply order (the transaction set is sorted by hash, or split into phases and
stages), so they are matched to ``tx_processing`` by the transaction hash, computed with the network
passphrase: a wrong passphrase fails loudly with `EnvelopeMismatch` instead of yielding unmatched data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from stellar_sdk import xdr as x

from ledgers import xdrconv
from ledgers.decode import decode_ledger, envelope_hash
from ledgers.entries import convert_changes, convert_keys
from ledgers.events import (
    convert_diagnostic_events,
    convert_events,
    convert_transaction_events,
)
from ledgers.model import (
    ContractEvent,
    EntryChange,
    EntryKey,
    Memo,
    Operation,
    Transaction,
    TransactionEvent,
    UpgradeChanges,
    gc_paused,
)
from ledgers.operations import convert_body, convert_result
from ledgers.scval import ScValue

__all__ = ["EnvelopeMismatch", "LedgerView", "touch_all"]

log = logging.getLogger(__name__)

_ENV_V0 = x.EnvelopeType.ENVELOPE_TYPE_TX_V0
_ENV_FEE_BUMP = x.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP
_SUCCESS_CODES = frozenset(
    {x.TransactionResultCode.txSUCCESS, x.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS}
)
_MEMO_TYPES = {
    x.MemoType.MEMO_NONE: "none",
    x.MemoType.MEMO_TEXT: "text",
    x.MemoType.MEMO_ID: "id",
    x.MemoType.MEMO_HASH: "hash",
    x.MemoType.MEMO_RETURN: "return",
}
_FEE_SYMBOL = b"fee"


class EnvelopeMismatch(ValueError):
    """A ``tx_processing`` hash has no envelope in the transaction set (usually: wrong network passphrase)."""


class LedgerView:
    """One closed ledger, read through small types. Build it with `LedgerView.from_xdr`.

    Header (eager): ``sequence``, ``close_time`` (unix seconds), ``closed_at`` (UTC datetime),
    ``protocol_version``, ``ledger_hash``, ``previous_ledger_hash`` (hex), ``lcm_version`` (0/1/2),
    ``base_fee``, ``base_reserve``, ``max_tx_set_size``, ``total_coins``, ``fee_pool``, ``transaction_count``,
    ``network_passphrase``.
    Lazy: `transactions` (apply order), `tx_set_size`, `operation_count`, `has_unified_events`,
    `upgrade_changes`, `evicted_keys`, `ledger_changes_in_order`.
    ``decoder_fallback``: None, or why the fast decoder handed this ledger to stellar-sdk (see `from_xdr`).
    """

    decoder_fallback: str | None = None

    def __init__(
        self,
        meta: x.LedgerCloseMeta,
        network_passphrase: str,
        envelopes: list[tuple[bytes, x.TransactionEnvelope]] | None = None,
    ) -> None:
        """Wrap a decoded ledger; `envelopes` are ``(hash, envelope)`` pairs if the decoder already hashed them."""
        self._meta = meta
        self._hashed_envelopes = envelopes
        self._lcm: Any = meta.v0 or meta.v1 or meta.v2
        self.network_passphrase = network_passphrase
        self._network_id = xdrconv.network_id(network_passphrase)
        self.lcm_version: int = meta.v
        self._read_header(self._lcm.ledger_header)
        self.transaction_count: int = len(self._lcm.tx_processing)

    def _read_header(self, entry: x.LedgerHeaderHistoryEntry) -> None:
        header = entry.header
        self.sequence: int = header.ledger_seq.uint32
        self.protocol_version: int = header.ledger_version.uint32
        self.close_time: int = header.scp_value.close_time.time_point.uint64
        self.closed_at: datetime = datetime.fromtimestamp(self.close_time, UTC)
        self.ledger_hash: str = entry.hash.hash.hex()
        self.previous_ledger_hash: str = header.previous_ledger_hash.hash.hex()
        self.base_fee: int = header.base_fee.uint32
        self.base_reserve: int = header.base_reserve.uint32
        self.max_tx_set_size: int = header.max_tx_set_size.uint32
        self.total_coins: int = header.total_coins.int64
        self.fee_pool: int = header.fee_pool.int64

    @classmethod
    def from_xdr(
        cls, raw: bytes, network_passphrase: str, decoder: Literal["fast", "sdk"] = "fast"
    ) -> LedgerView:
        """Decode raw ``LedgerCloseMeta`` XDR once and wrap it.

        ``decoder="fast"`` walks the bytes with `ledgers.fast` and materialises parts only when asked; a ledger it
        cannot read (an arm of a newer protocol, corrupt or left-over bytes) is decoded by stellar-sdk instead,
        logged, and marked in `decoder_fallback` (the reason) for the caller to count. ``"sdk"`` never tries the
        fast path. Bytes stellar-sdk cannot read either raise its error (``ValueError`` or ``EOFError``).
        """
        fallback: fast.FastDecodeError | None = None
        if decoder == "fast":
            try:
                return fast.FastLedgerView(raw, network_passphrase)
            except fast.FastDecodeError as exc:
                fallback = exc
        elif decoder != "sdk":
            raise ValueError(f"unknown decoder {decoder!r} (fast or sdk)")
        try:
            decoded = decode_ledger(raw, xdrconv.network_id(network_passphrase))
        except Exception:
            if fallback is not None:
                _log_fallback(fallback, fallback.sequence, "stellar-sdk cannot read it either")
            raise
        view = cls(decoded.meta, network_passphrase, decoded.envelopes)
        if fallback is not None:
            # Logged once stellar-sdk has read the header: the fast walk may have stopped before it.
            _log_fallback(fallback, view.sequence, "decoded by stellar-sdk")
            view.decoder_fallback = fallback.reason
        return view

    def __repr__(self) -> str:
        return (
            f"LedgerView(sequence={self.sequence}, protocol={self.protocol_version}, "
            f"lcm_version={self.lcm_version}, transactions={self.transaction_count})"
        )

    # -- transactions -------------------------------------------------------------------------------------------
    def _envelopes(self) -> list[x.TransactionEnvelope]:
        if self.lcm_version == 0:
            return list(self._lcm.tx_set.txs)
        envelopes: list[x.TransactionEnvelope] = []
        for phase in self._lcm.tx_set.v1_tx_set.phases:
            if phase.v0_components is not None:
                for component in phase.v0_components:
                    envelopes.extend(component.txs_maybe_discounted_fee.txs)
            else:
                for stage in phase.parallel_txs_component.execution_stages:
                    for cluster in stage.parallel_tx_execution_stage:
                        envelopes.extend(cluster.dependent_tx_cluster)
        return envelopes

    @cached_property
    def tx_set_size(self) -> int:
        """The number of envelopes in the transaction set (equal to `transaction_count` in a valid ledger)."""
        if self._hashed_envelopes is not None:
            return len(self._hashed_envelopes)
        return len(self._envelopes())

    @cached_property
    def transactions(self) -> tuple[Transaction, ...]:
        """Every transaction in apply order (``index`` 1-based)."""
        with gc_paused():
            return self._build_transactions()

    def _build_transactions(self) -> tuple[Transaction, ...]:
        hashed = self._hashed_envelopes
        if hashed is None:
            hashed = [(envelope_hash(envelope, self._network_id), envelope) for envelope in self._envelopes()]
        by_hash = dict(hashed)
        # The source holds the network id, not the view: a back-reference would make the view's object graph
        # cyclic, and then only the cyclic collector (not reference counting) could free a dropped ledger.
        source = _XdrSource(self._network_id)
        out = []
        for i, processing in enumerate(self._lcm.tx_processing):
            tx_hash = processing.result.transaction_hash.hash
            envelope = by_hash.pop(tx_hash, None)
            if envelope is None:
                raise EnvelopeMismatch(
                    f"ledger {self.sequence}: transaction {tx_hash.hex()} (index {i + 1}) has no envelope hashing "
                    f"to it with network passphrase {self.network_passphrase!r}"
                )
            out.append(_build_transaction(source, i + 1, processing, envelope))
        return tuple(out)

    @cached_property
    def operation_count(self) -> int:
        return sum(tx.operation_count for tx in self.transactions)

    @cached_property
    def has_unified_events(self) -> bool:
        """Whether transactions carry CAP-67 ``fee`` events (REFERENCE §3): then token movements are events.

        Meta v4 alone does not prove it (load-test ledgers have meta v4 and no fee events). Read from the XDR
        directly so that asking costs no event conversion.
        """
        for processing in self._lcm.tx_processing:
            meta = processing.tx_apply_processing
            if meta.v4 is None:
                continue
            for tx_event in meta.v4.events:
                topics = tx_event.event.body.v0.topics
                if topics and topics[0].sym is not None and topics[0].sym.sc_symbol == _FEE_SYMBOL:
                    return True
        return False

    # -- ledger-wide ----------------------------------------------------------------------------------------------
    @cached_property
    def upgrade_changes(self) -> tuple[UpgradeChanges, ...]:
        """Entry changes of the ledger's upgrades, applied after every transaction."""
        with gc_paused():
            return self._upgrade_changes()

    def _upgrade_changes(self) -> tuple[UpgradeChanges, ...]:
        return tuple(
            UpgradeChanges(
                upgrade=str(item.upgrade.type.name).removeprefix("LEDGER_UPGRADE_").lower(),
                changes=convert_changes(item.changes),
            )
            for item in self._upgrade_items()
        )

    def _upgrade_items(self) -> list[x.UpgradeEntryMeta]:
        return list(self._lcm.upgrades_processing)

    def _evicted_items(self) -> list[x.LedgerKey]:
        return [] if self.lcm_version == 0 else list(self._lcm.evicted_keys)

    @cached_property
    def evicted_keys(self) -> tuple[EntryKey, ...]:
        """Keys evicted (archived or deleted) at this ledger (LCM v1/v2; empty for v0)."""
        return convert_keys(self._evicted_items())

    def ledger_changes_in_order(self) -> Iterator[tuple[Transaction | None, Operation | None, EntryChange]]:
        """Every entry change of the ledger in application order (REFERENCE §2), for balance walks:

        every transaction's fee changes → per transaction: changes before, each operation's changes, changes
        after → every post-apply fee change (LCM v2 refunds) → upgrades (transaction and operation None).
        """
        transactions = self.transactions
        for tx in transactions:
            for change in tx.fee_changes:
                yield tx, None, change
        for tx in transactions:
            for change in tx.changes_before:
                yield tx, None, change
            for op in tx.operations:
                for change in op.changes:
                    yield tx, op, change
            for change in tx.changes_after:
                yield tx, None, change
        for tx in transactions:
            for change in tx.post_apply_fee_changes:
                yield tx, None, change
        for upgrade in self.upgrade_changes:
            for change in upgrade.changes:
                yield None, None, change


def _log_fallback(error: Any, sequence: int | None, outcome: str) -> None:
    log.warning(
        "fast decoder cannot read ledger %s (%s: %s); %s",
        sequence if sequence is not None else "?",
        error.reason,
        error.detail,
        outcome,
    )


def _memo(memo: x.Memo) -> Memo:
    kind = _MEMO_TYPES[memo.type]
    if memo.text is not None:
        return Memo(kind, memo.text.decode("utf-8", "replace"))
    if memo.id is not None:
        return Memo(kind, str(memo.id.uint64))
    if memo.hash is not None:
        return Memo(kind, memo.hash.hash.hex())
    if memo.ret_hash is not None:
        return Memo(kind, memo.ret_hash.hash.hex())
    return Memo(kind, None)


class _TxRaw:
    """The XDR pieces a transaction's lazy parts are built from."""

    __slots__ = ("body", "meta", "op_results", "processing")

    def __init__(self, processing: Any, body: Any, op_results: list[x.OperationResult] | None) -> None:
        self.processing = processing
        self.meta: x.TransactionMeta = processing.tx_apply_processing
        self.body = body
        self.op_results = op_results


def _build_transaction(
    source: _XdrSource, index: int, processing: Any, envelope: x.TransactionEnvelope
) -> Transaction:
    result = processing.result.result
    outer = result.result
    fee_account = fee_muxed = inner_hash = None
    if envelope.type is _ENV_FEE_BUMP:
        fee_bump = envelope.fee_bump.tx
        fee_account, fee_muxed = xdrconv.muxed_account(fee_bump.fee_source)
        max_fee = fee_bump.fee.int64
        body = fee_bump.inner_tx.v1.tx
        tx_source, tx_muxed = xdrconv.muxed_account(body.source_account)
        inner_pair = outer.inner_result_pair
        inner_hash = inner_pair.transaction_hash.hash.hex()
        op_results = inner_pair.result.result.results
    else:
        if envelope.type is _ENV_V0:
            body = envelope.v0.tx
            tx_source, tx_muxed = xdrconv.account_strkey(body.source_account_ed25519.uint256), None
        else:
            body = envelope.v1.tx
            tx_source, tx_muxed = xdrconv.muxed_account(body.source_account)
        max_fee = body.fee.uint32
        op_results = outer.results
    return Transaction(
        index=index,
        hash=processing.result.transaction_hash.hash.hex(),
        successful=outer.code in _SUCCESS_CODES,
        result_code=str(outer.code.name),
        fee_charged=result.fee_charged.int64,
        max_fee=max_fee,
        source_account=tx_source,
        source_muxed=tx_muxed,
        fee_account=fee_account,
        fee_muxed=fee_muxed,
        inner_hash=inner_hash,
        memo=_memo(body.memo),
        sequence_number=body.seq_num.sequence_number.int64,
        meta_version=processing.tx_apply_processing.v,
        operation_count=len(body.operations),
        _source=source,
        _raw=_TxRaw(processing, body, op_results),
    )


class _XdrSource:
    """Builds the lazy parts of transactions and operations from stellar-sdk's decoded XDR."""

    __slots__ = ("_network_id",)

    def __init__(self, network_id: bytes) -> None:
        self._network_id = network_id

    def operations(self, tx: Transaction) -> tuple[Operation, ...]:
        raw: _TxRaw = tx._raw
        results = raw.op_results
        network = self._network_id
        out = []
        for j, op in enumerate(raw.body.operations):
            if op.source_account is not None:
                account, muxed = xdrconv.muxed_account(op.source_account)
            else:
                account, muxed = tx.source_account, tx.source_muxed
            out.append(
                Operation(
                    index=j + 1,
                    type=str(op.body.type.name),
                    source_account=account,
                    source_muxed=muxed,
                    body=convert_body(op, account, network),
                    result=convert_result(results[j]) if results else None,
                    transaction_index=tx.index,
                    _source=self,
                    _raw=(raw, j),
                )
            )
        return tuple(out)

    @staticmethod
    def _op_metas(meta: x.TransactionMeta) -> list[Any]:
        if meta.v4 is not None:
            return meta.v4.operations
        if meta.v3 is not None:
            return meta.v3.operations
        if meta.v2 is not None:
            return meta.v2.operations
        if meta.v1 is not None:
            return meta.v1.operations
        return meta.operations or []

    def operation_changes(self, op: Operation) -> tuple[EntryChange, ...]:
        raw, j = op._raw
        metas = self._op_metas(raw.meta)
        # Failed transactions carry no operation meta.
        return convert_changes(metas[j].changes) if j < len(metas) else ()

    def operation_events(self, op: Operation) -> tuple[ContractEvent, ...]:
        raw, j = op._raw
        meta = raw.meta
        if meta.v4 is not None:
            metas = meta.v4.operations
            return convert_events(metas[j].events) if j < len(metas) else ()
        if meta.v3 is not None and meta.v3.soroban_meta is not None and j == 0:
            # Meta v3 keeps Soroban events at transaction level; a Soroban transaction has one operation.
            return convert_events(meta.v3.soroban_meta.events)
        return ()

    def changes(self, tx: Transaction, part: str) -> tuple[EntryChange, ...]:
        raw: _TxRaw = tx._raw
        if part == "fee":
            return convert_changes(raw.processing.fee_processing)
        if part == "post_apply_fee":
            return convert_changes(getattr(raw.processing, "post_tx_apply_fee_processing", None))
        meta = raw.meta
        versioned = meta.v4 or meta.v3 or meta.v2
        if part == "before":
            if versioned is not None:
                return convert_changes(versioned.tx_changes_before)
            return convert_changes(meta.v1.tx_changes) if meta.v1 is not None else ()
        if part == "after":
            return convert_changes(versioned.tx_changes_after) if versioned is not None else ()
        raise ValueError(f"unknown change list {part!r}")

    def events(self, tx: Transaction) -> tuple[TransactionEvent, ...]:
        meta = tx._raw.meta
        return convert_transaction_events(meta.v4.events) if meta.v4 is not None else ()

    def soroban_events(self, tx: Transaction) -> tuple[ContractEvent, ...]:
        meta = tx._raw.meta
        if meta.v3 is not None and meta.v3.soroban_meta is not None:
            return convert_events(meta.v3.soroban_meta.events)
        return ()

    def diagnostic_events(self, tx: Transaction) -> tuple[ContractEvent, ...]:
        meta = tx._raw.meta
        if meta.v4 is not None:
            return convert_diagnostic_events(meta.v4.diagnostic_events)
        if meta.v3 is not None and meta.v3.soroban_meta is not None:
            return convert_diagnostic_events(meta.v3.soroban_meta.diagnostic_events)
        return ()

    def return_value(self, tx: Transaction) -> ScValue | None:
        meta = tx._raw.meta
        soroban = meta.v4.soroban_meta if meta.v4 is not None else (meta.v3.soroban_meta if meta.v3 else None)
        if soroban is None or soroban.return_value is None:
            return None
        return ScValue(soroban.return_value)


def touch_all(view: LedgerView) -> int:
    """Read every part of `view` a processor may read and return how many parts were read.

    Transactions, each operation's body and result, every entry change list (fee, before, operations', after,
    post-apply fee), events of every kind, return values, upgrades and evicted keys: a benchmark calls it to
    time a decoder with nothing left lazy (the count keeps the work from looking unused).
    """
    n = int(view.has_unified_events) + view.tx_set_size
    for tx in view.transactions:
        n += len(tx.fee_changes) + len(tx.changes_before) + len(tx.changes_after)
        n += len(tx.post_apply_fee_changes)
        n += len(tx.events) + len(tx.soroban_events) + len(tx.diagnostic_events)
        n += tx.return_value is not None
        for op in tx.operations:
            n += 1 + (op.body is not None) + (op.result is not None)
            n += len(op.changes) + len(op.events)
    for upgrade in view.upgrade_changes:
        n += 1 + len(upgrade.changes)
    return n + len(view.evicted_keys)


# At the bottom: `ledgers.fast` subclasses `LedgerView`, so it can only be imported once the class exists.
from ledgers import fast  # noqa: E402
