"""The small types `LedgerView` hands to processors: transactions, operations, results, events, entry changes.

Processors read only these (never ``stellar_sdk.xdr``), so a faster, selective decoder can replace the
stellar-sdk decode behind `LedgerView` without touching a processor.

Conventions:
- amounts are Python ints in raw units (stroops, or a token's own units);
- accounts ``G…`` (with the ``M…`` form kept beside it where the XDR had a muxed account), contracts ``C…``,
  claimable balances ``B…``, liquidity pools ``L…``; hashes lowercase hex;
- assets ``native`` | ``CODE:ISSUER``; pool-share trustlines ``pool_share:L…``;
- sequences are tuples: the types are frozen, so their collections are too;
- enum-like fields are lowercase strings (``created``, ``contract``, ``after_tx``), except result codes,
  which keep stellar-core's names (``txSUCCESS``, ``PAYMENT_UNDERFUNDED``) because users search for those.

Costly parts (operations, entry changes, events) are built on first access and then kept: `Transaction` and
`Operation` carry a private builder and memo for that, so reading only the fee changes of a ledger never
converts its operations.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ledgers.entry_types import (
    AccountEntry,
    ClaimableBalanceEntry,
    ContractCodeEntry,
    ContractDataEntry,
    DataEntry,
    Entry,
    EntryChange,
    EntryDiff,
    EntryKey,
    LiquidityPoolEntry,
    OfferEntry,
    OtherEntry,
    TrustlineEntry,
    TtlEntry,
    pair_changes,
)
from ledgers.frozen import frozen_model

if TYPE_CHECKING:
    from ledgers.opbodies import OperationBody
    from ledgers.scval import ScValue

__all__ = [
    "AccountEntry",
    "ClaimAtom",
    "ClaimableBalanceEntry",
    "ContractCodeEntry",
    "ContractDataEntry",
    "ContractEvent",
    "DataEntry",
    "Entry",
    "EntryChange",
    "EntryDiff",
    "EntryKey",
    "LiquidityPoolEntry",
    "Memo",
    "OfferEntry",
    "Operation",
    "OperationResult",
    "OperationSource",
    "OtherEntry",
    "PaymentLast",
    "Transaction",
    "TransactionEvent",
    "TransactionSource",
    "TrustlineEntry",
    "TtlEntry",
    "UpgradeChanges",
    "gc_paused",
    "pair_changes",
]

_T = TypeVar("_T")
_MISSING: Any = object()


_pause_lock = threading.Lock()
_pauses = 0
"""`gc_paused` blocks in progress, in every thread (the collector is one per process)."""
_resume = False
"""Whether the collector was enabled when the first of them began: it is enabled again when the last ends."""


def _pause() -> None:
    global _pauses, _resume
    with _pause_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1


def _unpause() -> None:
    global _pauses
    with _pause_lock:
        _pauses -= 1
        if _pauses == 0 and _resume:
            gc.enable()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Decoding a ledger and converting it allocate hundreds of thousands of small objects that form no
    reference cycles (the view's object graph is acyclic by design, so reference counting frees a ledger as
    soon as it is dropped). With the collector running, those allocations trigger full collections that rescan
    every live object of the ledger again and again: measured, ~45% of stellar-sdk's decode and ~80% of the
    conversion time. The collector is re-enabled afterwards unless the caller had disabled it.

    Pauses are counted across threads (a decoding thread per ingest job in `obsrvr-flow dev`): each thread
    reading `gc.isenabled()` for itself, one that read it inside another's pause and disabled after that one
    re-enabled left the collector off for good.
    """
    _pause()
    try:
        yield
    finally:
        _unpause()


def _memoized(memo: dict[str, Any], name: str, build: Callable[[], _T]) -> _T:
    value = memo.get(name, _MISSING)  # not try/except: the first read of each part misses, and a raise costs
    if value is not _MISSING:
        return value
    # This runs for every lazy part of every transaction and operation, mostly inside a pause already
    # (`ingest.engine.process_ledger`): then nothing to do. Off by someone else's choice: left so.
    if not gc.isenabled():
        value = memo[name] = build()
        return value
    _pause()
    try:
        value = memo[name] = build()
    finally:
        _unpause()
    return value


# -- events -------------------------------------------------------------------------------------------------------
@frozen_model
class ContractEvent:
    """A Soroban / CAP-67 event: ``type`` contract|system|diagnostic, topics and data as `ScValue`.

    ``in_successful_contract_call`` is set for events from the diagnostic stream only (None otherwise).
    """

    type: str
    contract_id: str | None
    topics: tuple[ScValue, ...]
    data: ScValue
    in_successful_contract_call: bool | None = None

    @property
    def topic0(self) -> str | None:
        """The first topic as a symbol (the event name: ``transfer``, ``fee`` …), if it is one."""
        return self.topics[0].symbol if self.topics else None


@frozen_model
class TransactionEvent:
    """A transaction-level event of meta v4 (the ``fee`` events): ``stage`` before_all_txs|after_tx|after_all_txs."""

    stage: str
    event: ContractEvent


# -- operations -------------------------------------------------------------------------------------------------
@frozen_model
class ClaimAtom:
    """One offer or pool crossed by an operation, from the **seller's** side (the offer owner or the pool):

    the seller gave ``amount_sold`` of ``asset_sold`` and received ``amount_bought`` of ``asset_bought``; the
    operation's account is the counterparty. ``kind`` order_book_v0|order_book|liquidity_pool; ``seller`` and
    ``offer_id`` are None for pools, ``pool_id`` None for offers.
    """

    kind: str
    seller: str | None
    offer_id: int | None
    pool_id: str | None
    asset_sold: str
    amount_sold: int
    asset_bought: str
    amount_bought: int


@frozen_model
class PaymentLast:
    """The final hop of a successful path payment: what the destination received."""

    destination: str
    asset: str
    amount: int


@frozen_model
class OperationResult:
    """An operation's result.

    ``code`` is the operation-specific code (``PAYMENT_SUCCESS``, ``PATH_PAYMENT_STRICT_SEND_UNDER_DESTMIN``)
    or, when the operation was not run, the outer code (``opBAD_AUTH``, ``opNO_ACCOUNT`` …). Only the fields of
    the operation's type are filled: ``claim_atoms`` (offer crossing and path payments — the XDR calls them
    ``offers`` for path payments, see `offers`), ``last`` (path payments), ``offer_effect`` and ``offer``
    (manage offer: created|updated|deleted and the resting offer; results carry no ledger number, so its
    ``last_modified_ledger`` is 0), ``source_account_balance`` (account merge),
    ``balance_id`` (create claimable balance), ``inflation_payouts`` ((destination, amount) pairs),
    ``invoke_result_hash`` (invoke host function success: hex sha256 of the return value and events).
    """

    code: str
    successful: bool
    claim_atoms: tuple[ClaimAtom, ...] = ()
    last: PaymentLast | None = None
    offer_effect: str | None = None
    offer: OfferEntry | None = None
    source_account_balance: int | None = None
    balance_id: str | None = None
    inflation_payouts: tuple[tuple[str, int], ...] = ()
    invoke_result_hash: str | None = None

    @property
    def offers(self) -> tuple[ClaimAtom, ...]:
        """The path payment name for `claim_atoms`."""
        return self.claim_atoms


class OperationSource(Protocol):
    """What builds an operation's costly parts on demand (implemented by the decoder behind the view)."""

    def operation_changes(self, op: Operation) -> tuple[EntryChange, ...]: ...

    def operation_events(self, op: Operation) -> tuple[ContractEvent, ...]: ...


@frozen_model
class Operation:
    """One operation: ``index`` 1-based within its transaction, ``type`` the XDR name (``PAYMENT`` …).

    ``source_account`` is the operation's source, else the transaction's (``source_muxed`` its ``M…`` form).
    ``result`` is None when the transaction result carries no operation results (it failed before applying
    them, e.g. ``txBAD_SEQ``). ``events`` are the operation's contract events (meta v4; for meta v3 the
    Soroban events of the transaction's single operation); ``changes`` its ledger entry changes.
    """

    index: int
    type: str
    source_account: str
    source_muxed: str | None
    body: OperationBody
    result: OperationResult | None
    transaction_index: int
    _source: OperationSource = field(repr=False, compare=False)
    _raw: Any = field(repr=False, compare=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def successful(self) -> bool:
        """Whether the operation itself succeeded (it may still be rolled back by a failed transaction)."""
        return self.result is not None and self.result.successful

    @property
    def changes(self) -> tuple[EntryChange, ...]:
        return _memoized(self._memo, "changes", lambda: self._source.operation_changes(self))

    @property
    def events(self) -> tuple[ContractEvent, ...]:
        return _memoized(self._memo, "events", lambda: self._source.operation_events(self))


# -- transactions -----------------------------------------------------------------------------------------------
@frozen_model
class Memo:
    """``type`` none|text|id|hash|return; ``value`` the text (invalid UTF-8 replaced), the id in decimal, or
    the 32-byte hash in hex; None for ``none``."""

    type: str
    value: str | None


class TransactionSource(Protocol):
    """What builds a transaction's costly parts on demand (implemented by the decoder behind the view)."""

    def operations(self, tx: Transaction) -> tuple[Operation, ...]: ...

    def changes(self, tx: Transaction, part: str) -> tuple[EntryChange, ...]: ...

    def events(self, tx: Transaction) -> tuple[TransactionEvent, ...]: ...

    def soroban_events(self, tx: Transaction) -> tuple[ContractEvent, ...]: ...

    def diagnostic_events(self, tx: Transaction) -> tuple[ContractEvent, ...]: ...

    def return_value(self, tx: Transaction) -> ScValue | None: ...


@frozen_model
class Transaction:
    """One transaction in apply order (``index`` 1-based, the TOID transaction index).

    For fee bumps, ``hash`` is the outer (fee bump) hash — the one ``tx_processing`` and explorers use —,
    ``inner_hash`` the inner transaction's, ``source_account`` the inner transaction's source and
    ``fee_account`` the fee bump's fee source (None for other transactions; `fee_payer` covers both).
    ``result_code`` is the outer code (``txSUCCESS``, ``txFEE_BUMP_INNER_SUCCESS``, ``txFAILED`` …),
    ``fee_charged`` the outer fee actually charged, ``max_fee`` the envelope's fee bid (the fee bump's for
    fee bumps).

    Lazy parts: ``operations``; ``events`` (meta v4 transaction-level events: fees and refunds);
    ``fee_changes`` (``fee_processing``), ``changes_before``, ``changes_after``, ``post_apply_fee_changes``
    (LCM v2 ``post_tx_apply_fee_processing``); ``soroban_events`` (meta v3 only; meta v4 puts them on the
    operation); ``diagnostic_events``; ``return_value`` of a Soroban invocation.
    """

    index: int
    hash: str
    successful: bool
    result_code: str
    fee_charged: int
    max_fee: int
    source_account: str
    source_muxed: str | None
    fee_account: str | None
    fee_muxed: str | None
    inner_hash: str | None
    memo: Memo
    sequence_number: int
    meta_version: int
    operation_count: int
    _source: TransactionSource = field(repr=False, compare=False)
    _raw: Any = field(repr=False, compare=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_fee_bump(self) -> bool:
        return self.fee_account is not None

    @property
    def fee_payer(self) -> str:
        """The account that paid the fee: the fee bump's fee source, else the transaction source."""
        return self.fee_account if self.fee_account is not None else self.source_account

    @property
    def operations(self) -> tuple[Operation, ...]:
        return _memoized(self._memo, "operations", lambda: self._source.operations(self))

    @property
    def events(self) -> tuple[TransactionEvent, ...]:
        return _memoized(self._memo, "events", lambda: self._source.events(self))

    @property
    def fee_changes(self) -> tuple[EntryChange, ...]:
        return _memoized(self._memo, "fee", lambda: self._source.changes(self, "fee"))

    @property
    def changes_before(self) -> tuple[EntryChange, ...]:
        return _memoized(self._memo, "before", lambda: self._source.changes(self, "before"))

    @property
    def changes_after(self) -> tuple[EntryChange, ...]:
        return _memoized(self._memo, "after", lambda: self._source.changes(self, "after"))

    @property
    def post_apply_fee_changes(self) -> tuple[EntryChange, ...]:
        return _memoized(self._memo, "post_apply_fee", lambda: self._source.changes(self, "post_apply_fee"))

    @property
    def soroban_events(self) -> tuple[ContractEvent, ...]:
        return _memoized(self._memo, "soroban_events", lambda: self._source.soroban_events(self))

    @property
    def diagnostic_events(self) -> tuple[ContractEvent, ...]:
        return _memoized(self._memo, "diagnostic_events", lambda: self._source.diagnostic_events(self))

    @property
    def return_value(self) -> ScValue | None:
        return _memoized(self._memo, "return_value", lambda: self._source.return_value(self))

    @property
    def contract_events(self) -> tuple[ContractEvent, ...]:
        """Every operation-level contract event, whatever the meta version (v3: soroban meta; v4: operations)."""
        if self.meta_version == 3:
            return self.soroban_events
        return tuple(event for op in self.operations for event in op.events)

    @property
    def fee_events(self) -> tuple[TransactionEvent, ...]:
        """The transaction-level events whose first topic is ``fee`` (CAP-67 fee charges and refunds)."""
        return tuple(tx_event for tx_event in self.events if tx_event.event.topic0 == "fee")


@frozen_model
class UpgradeChanges:
    """The entry changes of one ledger upgrade (``upgrade`` e.g. ``version``, ``base_fee``, ``config``)."""

    upgrade: str
    changes: tuple[EntryChange, ...]
