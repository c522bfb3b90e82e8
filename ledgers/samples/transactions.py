"""Transactions of the samples: signed envelopes, and their application in stellar-core's order.

`apply_transactions` runs one ledger's transactions the way stellar-core does from protocol 23 on:
1. every transaction's fee is charged first (``fee_processing``, a ``fee`` event at ``BEFORE_ALL_TXS``) — for a
   Soroban transaction the inclusion fee plus its whole declared resource fee;
2. then each transaction: the sequence number bump (``tx_changes_before``), then its operations, each with its
   changes and events; a failing operation rolls the whole transaction back (``txFAILED``: no operation meta,
   only the fee);
3. then the Soroban refunds (``post_tx_apply_fee_processing``, a negative ``fee`` event at ``AFTER_ALL_TXS``).
So each transaction's fee events add up to its ``fee_charged``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stellar_sdk import xdr as x

from .context import OpContext, OpSpec
from .events import AFTER_ALL_TXS, BEFORE_ALL_TXS, TokenEvents
from .keys import Cast
from .soroban import SorobanSpec
from .state import Changes, LedgerState
from .xdrkit import hash32, i64, muxed_account, sha256, u32, u64

BASE_FEE = 100  # the network's base fee per operation (LedgerHeader.baseFee)
FEE_BID = 200  # what sample transactions offer per operation; stellar-core charges only the base fee
REFUNDABLE_BUDGET = 200_000  # declared refundable resource fee of every Soroban transaction
TIME_BOUNDS_WINDOW = 300  # envelopes are valid until 5 minutes after their ledger closes


@dataclass(frozen=True)
class TxSpec:
    """One transaction of the scenario: its source, operations and optional text memo."""

    source: str
    operations: tuple[OpSpec, ...]
    memo: str | None = None

    @property
    def soroban(self) -> SorobanSpec | None:
        """The Soroban operation, if this is a Soroban transaction (which has exactly one operation)."""
        first = self.operations[0]
        return first if isinstance(first, SorobanSpec) else None


@dataclass
class AppliedTx:
    """A transaction as it ends up in the ledger: envelope, hash, and its ``TransactionResultMetaV1``."""

    spec: TxSpec
    seq_num: int
    envelope: x.TransactionEnvelope
    hash: bytes
    fee_upfront: int
    non_refundable: int = 0
    fee_changes: x.LedgerEntryChanges = field(default_factory=lambda: x.LedgerEntryChanges([]))
    before_changes: x.LedgerEntryChanges = field(default_factory=lambda: x.LedgerEntryChanges([]))
    post_fee_changes: x.LedgerEntryChanges = field(default_factory=lambda: x.LedgerEntryChanges([]))
    operations: list[x.OperationMetaV2] = field(default_factory=list)
    results: list[x.OperationResult] = field(default_factory=list)
    events: list[x.TransactionEvent] = field(default_factory=list)
    successful: bool = True
    refund: int = 0
    soroban_meta: x.SorobanTransactionMetaV2 | None = None

    @property
    def fee_charged(self) -> int:
        return self.fee_upfront - self.refund

    def result_pair(self) -> x.TransactionResultPair:
        code = x.TransactionResultCode.txSUCCESS if self.successful else x.TransactionResultCode.txFAILED
        result = x.TransactionResult(
            i64(self.fee_charged),
            x.TransactionResultResult(code, results=self.results),
            x.TransactionResultExt(0),
        )
        return x.TransactionResultPair(hash32(self.hash), result)

    def meta(self) -> x.TransactionResultMetaV1:
        tx_meta = x.TransactionMetaV4(
            ext=x.ExtensionPoint(0),
            tx_changes_before=self.before_changes,
            operations=self.operations,
            tx_changes_after=x.LedgerEntryChanges([]),
            soroban_meta=self.soroban_meta,
            events=self.events,
            diagnostic_events=[],
        )
        return x.TransactionResultMetaV1(
            x.ExtensionPoint(0),
            self.result_pair(),
            self.fee_changes,
            x.TransactionMeta(4, v4=tx_meta),
            self.post_fee_changes,
        )


def transaction_hash(tx: x.Transaction, network_id: bytes) -> bytes:
    """sha256 of the ``TransactionSignaturePayload``: what stellar-core hashes and signers sign."""
    tagged = x.TransactionSignaturePayloadTaggedTransaction(x.EnvelopeType.ENVELOPE_TYPE_TX, tx=tx)
    return sha256(x.TransactionSignaturePayload(hash32(network_id), tagged).to_xdr_bytes())


def _memo(text: str | None) -> x.Memo:
    if text is None:
        return x.Memo(x.MemoType.MEMO_NONE)
    return x.Memo(x.MemoType.MEMO_TEXT, text=text.encode())


def _soroban_data(spec: SorobanSpec, non_refundable: int) -> x.TransactionExt:
    footprint = spec.footprint()
    entries = len(footprint.read_only) + len(footprint.read_write)
    resources = x.SorobanResources(footprint, u32(2_000_000 + 500_000 * entries), u32(0), u32(400 * entries))
    data = x.SorobanTransactionData(
        x.SorobanTransactionDataExt(0), resources, i64(non_refundable + REFUNDABLE_BUDGET)
    )
    return x.TransactionExt(1, soroban_data=data)


def _envelope(
    spec: TxSpec, seq_num: int, close_time: int, cast: Cast, network_id: bytes
) -> tuple[x.TransactionEnvelope, bytes, int, int]:
    """The signed envelope, its hash, the fee charged up front and (Soroban) the non-refundable resource fee."""
    soroban = spec.soroban
    ext = x.TransactionExt(0)
    ops = len(spec.operations)
    fee_bid, upfront, non_refundable = FEE_BID * ops, BASE_FEE * ops, 0
    if soroban is not None:
        footprint = soroban.footprint()
        non_refundable = 5_000 + 1_500 * (len(footprint.read_only) + len(footprint.read_write))
        ext = _soroban_data(soroban, non_refundable)
        fee_bid += non_refundable + REFUNDABLE_BUDGET
        upfront += non_refundable + REFUNDABLE_BUDGET
    bounds = x.TimeBounds(x.TimePoint(u64(0)), x.TimePoint(u64(close_time + TIME_BOUNDS_WINDOW)))
    tx = x.Transaction(
        muxed_account(spec.source),
        u32(fee_bid),
        x.SequenceNumber(i64(seq_num)),
        x.Preconditions(x.PreconditionType.PRECOND_TIME, time_bounds=bounds),
        _memo(spec.memo),
        [op.operation() for op in spec.operations],
        ext,
    )
    tx_hash = transaction_hash(tx, network_id)
    signature = cast.signer(spec.source).sign_decorated(tx_hash).to_xdr_object()
    envelope = x.TransactionEnvelope(
        x.EnvelopeType.ENVELOPE_TYPE_TX, v1=x.TransactionV1Envelope(tx, [signature])
    )
    return envelope, tx_hash, upfront, non_refundable


def _succeeded(result: x.OperationResult) -> bool:
    """Whether an operation result is a success: ``opINNER`` and a type-specific code of 0 (every ``*_SUCCESS``)."""
    if result.code != x.OperationResultCode.opINNER or result.tr is None:
        return False
    # `tr` is a union: exactly one arm besides its `type` discriminant is set, and every arm has a `code`.
    arm = next(value for name, value in vars(result.tr).items() if name != "type" and value is not None)
    return int(arm.code.value) == 0


def apply_transactions(
    state: LedgerState, specs: list[TxSpec], ledger_seq: int, close_time: int, cast: Cast, network_id: bytes
) -> list[AppliedTx]:
    """Apply one ledger's transactions (already in apply order) to `state`; see the module docstring."""
    tokens = TokenEvents(cast)
    applied: list[AppliedTx] = []
    next_seq: dict[str, int] = {}
    for spec in specs:
        seq_num = next_seq.get(spec.source, state.account(spec.source).seq_num) + 1
        next_seq[spec.source] = seq_num
        envelope, tx_hash, upfront, non_refundable = _envelope(spec, seq_num, close_time, cast, network_id)
        applied.append(AppliedTx(spec, seq_num, envelope, tx_hash, upfront, non_refundable))

    for tx in applied:
        changes = Changes(state, ledger_seq)
        changes.touch(state.account(tx.spec.source)).balance -= tx.fee_upfront
        tx.fee_changes = changes.finish()
        tx.events.append(x.TransactionEvent(BEFORE_ALL_TXS, tokens.fee(tx.spec.source, tx.fee_upfront)))

    for tx in applied:
        _apply_one(state, tx, ledger_seq, cast, tokens)

    for tx in applied:
        if tx.refund:
            changes = Changes(state, ledger_seq)
            changes.touch(state.account(tx.spec.source)).balance += tx.refund
            tx.post_fee_changes = changes.finish()
            tx.events.append(x.TransactionEvent(AFTER_ALL_TXS, tokens.fee(tx.spec.source, -tx.refund)))
    return applied


def _apply_one(state: LedgerState, tx: AppliedTx, ledger_seq: int, cast: Cast, tokens: TokenEvents) -> None:
    source = tx.spec.source
    changes = Changes(state, ledger_seq)
    changes.touch(state.account(source)).seq_num = tx.seq_num
    tx.before_changes = changes.finish()

    snapshot = state.snapshot()
    contexts: list[OpContext] = []
    for op in tx.spec.operations:
        ctx = OpContext(state, Changes(state, ledger_seq), tokens, cast, op.source or source, ledger_seq)
        result = op.apply(ctx)
        tx.results.append(result)
        if not _succeeded(result):
            tx.successful = False
            break
        contexts.append(ctx)
        tx.operations.append(x.OperationMetaV2(x.ExtensionPoint(0), ctx.changes.finish(), ctx.events))
    if not tx.successful:
        state.restore(snapshot)  # a failed transaction leaves nothing but its fee and sequence bump
        tx.operations = []
        return
    if tx.spec.soroban is not None:
        _settle_soroban(tx, contexts[0])


def _settle_soroban(tx: AppliedTx, ctx: OpContext) -> None:
    """The resource fee actually used (rent for new entries, event bytes) and so the refund."""
    created = sum(
        1
        for meta in tx.operations
        for change in meta.changes.ledger_entry_changes
        if change.type == x.LedgerEntryChangeType.LEDGER_ENTRY_CREATED
    )
    rent = 4_000 * created
    refundable = 1_000 + rent + 5 * sum(len(event.to_xdr_bytes()) for event in ctx.events)
    tx.refund = REFUNDABLE_BUDGET - refundable
    fees = x.SorobanTransactionMetaExtV1(
        x.ExtensionPoint(0), i64(tx.non_refundable), i64(refundable), i64(rent)
    )
    tx.soroban_meta = x.SorobanTransactionMetaV2(x.SorobanTransactionMetaExt(1, v1=fees), ctx.return_value)
