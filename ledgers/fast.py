# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""The fast decoder behind `LedgerView`: walk the raw bytes once, build only what is asked.

`FastLedgerView` walks the whole ``LedgerCloseMeta`` with the generated skippers of `ledgers.skippers` (every arm
and optional of the schema, so a ledger is accepted only when its last byte is reached and nothing was refused),
recording where each envelope, transaction result, fee change list, transaction meta, upgrade list and evicted
key list starts. Read straight from the bytes during the walk: the header, the transaction hashes (sha256 over
the envelope body bytes), every `Transaction` field (sources, fee, memo, sequence, result code, fee charged,
inner hash, meta version, operation count) and `has_unified_events`.

Everything else is lazy and exact by construction: when a processor first asks for a transaction's operations,
changes, events or return value, the piece it needs (the envelope body, the transaction result, the fee changes,
the transaction meta, the post-apply fee changes) is decoded at its recorded offset by stellar-sdk's own class
for that piece and handed to the same converters as the stellar-sdk path (`ledgers.view._XdrSource`), so the
model objects are identical to the sdk path's. A ledger the walk refuses raises `FastDecodeError` with a
reason (`unknown_arm`, `invalid`, `truncated`, `trailing_bytes`, `too_deep`, `envelope`) that
`LedgerView.from_xdr` logs and hands back for counting before decoding the ledger with stellar-sdk.
"""

from __future__ import annotations

import hashlib
import struct
from functools import cached_property
from typing import Any, NamedTuple

from stellar_sdk import xdr as x

from ledgers import skippers, xdrconv
from ledgers.fastentries import I32, U32, changes_at, unpack_at
from ledgers.fastevents import diagnostic_events_at, events_at, transaction_events_at
from ledgers.fastops import operation_at, results_at
from ledgers.fastread import muxed_at
from ledgers.model import (
    ContractEvent,
    EntryChange,
    Memo,
    Operation,
    OperationResult,
    Transaction,
    TransactionEvent,
    gc_paused,
)
from ledgers.scval import ScValue
from ledgers.unpacker import FastUnpacker
from ledgers.view import EnvelopeMismatch, LedgerView, _XdrSource

__all__ = ["FastDecodeError", "FastLedgerView"]

_I64 = struct.Struct(">q").unpack_from
_U64 = struct.Struct(">Q").unpack_from

_ENV_V0, _ENV_TX, _ENV_FEE_BUMP = 0, 2, 5
_PREFIX_TX = struct.pack(">I", _ENV_TX)
_PREFIX_TX_V0 = struct.pack(">II", _ENV_TX, 0)  # see ledgers.decode: a V0 body hashes as a V1 body
_PREFIX_FEE_BUMP = struct.pack(">I", _ENV_FEE_BUMP)
_TX_SUCCESS, _TX_FEE_BUMP_INNER_SUCCESS, _TX_FEE_BUMP_INNER_FAILED = 0, 1, -13
_RESULT_NAMES = {member.value: member.name for member in x.TransactionResultCode}
_MEMO_KINDS = ("none", "text", "id", "hash", "return")
_SCV_SYMBOL = 15
_DEPTH = 500


class FastDecodeError(ValueError):
    """The fast decoder cannot read a ledger: ``reason`` is a short label (a metric label), ``detail`` says more."""

    def __init__(self, reason: str, detail: str, sequence: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.sequence = sequence


def _unpack_list_at(cls: Any, raw: bytes, offset: int) -> list[Any]:
    unpacker = FastUnpacker(raw)
    unpacker.set_position(offset)
    return [cls.unpack(unpacker, _DEPTH) for _ in range(unpacker.unpack_uint())]


def _memo(raw: bytes, o: int) -> tuple[Memo, int]:
    kind = I32(raw, o)[0]
    o += 4
    if kind == 0:
        return Memo("none", None), o
    if kind == 1:
        n = U32(raw, o)[0]
        text = raw[o + 4 : o + 4 + n]
        return Memo("text", text.decode("utf-8", "replace")), o + 4 + (n + 3) // 4 * 4
    if kind == 2:
        return Memo("id", str(_U64(raw, o)[0])), o + 8
    return Memo(_MEMO_KINDS[kind], raw[o : o + 32].hex()), o + 32


class _Envelope:
    """Where one envelope's parts are, and the fields read from its bytes."""

    __slots__ = (
        "fee_account",
        "fee_muxed",
        "max_fee",
        "memo",
        "op_count",
        "ops_offset",
        "seq",
        "source",
        "source_muxed",
    )

    def __init__(self, raw: bytes, kind: int, o: int) -> None:
        self.fee_account = self.fee_muxed = None
        if kind == _ENV_FEE_BUMP:
            self.fee_account, self.fee_muxed, o = muxed_at(raw, o)
            self.max_fee = _I64(raw, o)[0]
            o += 12  # fee, then the inner transaction's envelope type (always ENVELOPE_TYPE_TX)
            kind = _ENV_TX
        if kind == _ENV_TX:
            self.source, self.source_muxed, o = muxed_at(raw, o)
            fee = U32(raw, o)[0]
            self.seq = _I64(raw, o + 4)[0]
            o = skippers.skip_Preconditions(raw, o + 12)
        else:
            self.source, self.source_muxed = xdrconv.account_strkey(raw[o : o + 32]), None
            fee = U32(raw, o + 32)[0]
            self.seq = _I64(raw, o + 36)[0]
            o += 44
            o += 20 if U32(raw, o)[0] else 4  # optional TimeBounds
        if self.fee_account is None:
            self.max_fee = fee
        self.memo, o = _memo(raw, o)
        self.op_count = U32(raw, o)[0]
        self.ops_offset = o + 4


class _Processing:
    """One ``tx_processing`` item: offsets of its parts, decoded by stellar-sdk on first access."""

    __slots__ = ("__dict__", "fee_offset", "layout", "meta_offset", "post_offset", "raw", "result_offset")

    def __init__(
        self,
        raw: bytes,
        result_offset: int,
        fee_offset: int,
        meta_offset: int,
        layout: _MetaLayout,
        post: int | None,
    ) -> None:
        self.raw = raw
        self.result_offset = result_offset
        self.fee_offset = fee_offset
        self.meta_offset = meta_offset
        self.layout = layout
        self.post_offset = post

    @cached_property
    def fee_processing(self) -> x.LedgerEntryChanges:
        return unpack_at(x.LedgerEntryChanges, self.raw, self.fee_offset)

    @cached_property
    def post_tx_apply_fee_processing(self) -> x.LedgerEntryChanges | None:
        if self.post_offset is None:
            return None
        return unpack_at(x.LedgerEntryChanges, self.raw, self.post_offset)

    @cached_property
    def tx_apply_processing(self) -> x.TransactionMeta:
        return unpack_at(x.TransactionMeta, self.raw, self.meta_offset)


class _LazyTxRaw:
    """What `ledgers.view._XdrSource` reads of a transaction (``processing``, ``meta``, ``body``,
    ``op_results``), each decoded by stellar-sdk from its offset on first access."""

    __slots__ = ("__dict__", "envelope", "fee_bump", "processing")

    def __init__(self, processing: _Processing, envelope: _Envelope, fee_bump: bool) -> None:
        self.processing = processing
        self.envelope = envelope
        self.fee_bump = fee_bump

    @property
    def meta(self) -> x.TransactionMeta:
        return self.processing.tx_apply_processing

    @property
    def layout(self) -> _MetaLayout:
        return self.processing.layout

    @cached_property
    def soroban(self) -> _SorobanParts | None:
        """Where the meta's Soroban part (``SorobanTransactionMeta`` v3, ``…V2`` v4) keeps its events, return
        value and diagnostic events, read from the bytes; None if the meta has none."""
        layout = self.layout
        o = layout.soroban
        if o is None:
            return None
        raw = self.processing.raw
        o += 32 if I32(raw, o)[0] == 1 else 4  # SorobanTransactionMetaExt: void, or v1 (ext, three fees)
        if layout.version == 4:  # only an optional return value; events are elsewhere in meta v4
            if not U32(raw, o)[0]:
                return _SorobanParts(None, None, None)
            return _SorobanParts(None, _scval_at(raw, o + 4), None)
        events = o
        o = _skip_list(raw, o, skippers.skip_ContractEvent)
        end = skippers.skip_SCVal(raw, o)
        return _SorobanParts(events, ScValue.from_xdr_bytes(raw[o:end]), end)

    @cached_property
    def op_results(self) -> list[OperationResult] | None:
        p = self.processing
        return results_at(p.raw, p.result_offset + 32, self.fee_bump)


class _SorobanParts(NamedTuple):
    """Offsets of a meta v3 Soroban part's events and diagnostic events (None in meta v4, which keeps them
    elsewhere), and its return value."""

    events: int | None
    return_value: ScValue | None
    diagnostics: int | None


def _scval_at(raw: bytes, o: int) -> ScValue:
    return ScValue.from_xdr_bytes(raw[o : skippers.skip_SCVal(raw, o)])


class _MetaLayout:
    """Offsets inside one transaction meta (None where its version has no such part), found by the walk itself:
    this walks the meta exactly as the generated ``skip_TransactionMeta`` does (same arms, counts and flags
    refused) and records where each part starts, so materialising a part never walks the meta a second time.
    ``end`` is the offset after the meta."""

    __slots__ = (
        "after",
        "before",
        "diagnostics",
        "end",
        "events",
        "op_changes",
        "op_events",
        "soroban",
        "version",
    )

    def __init__(self, raw: bytes, o: int) -> None:
        self.version = version = I32(raw, o)[0]
        if not 0 <= version <= 4:
            raise skippers.UnknownArm("TransactionMeta", version)
        o += 4
        self.before = self.after = self.soroban = self.events = self.diagnostics = None
        if version >= 3:
            o = skippers.skip_ExtensionPoint(raw, o)
        if version >= 1:
            self.before = o
            o = skippers.skip_LedgerEntryChanges(raw, o)
        op_changes: list[int] = []
        op_events: list[int] = []
        count = _count(raw, o)
        o += 4
        skip_changes = skippers.skip_LedgerEntryChanges
        for _ in range(count):
            if version == 4:
                o = skippers.skip_ExtensionPoint(raw, o)  # OperationMetaV2's
            op_changes.append(o)
            o = skip_changes(raw, o)
            if version == 4:
                op_events.append(o)
                o = _skip_list(raw, o, skippers.skip_ContractEvent)
        self.op_changes = op_changes
        self.op_events = op_events
        if version >= 2:
            self.after = o
            o = skip_changes(raw, o)
        if version >= 3:
            present = U32(raw, o)[0]
            if present > 1:
                raise skippers.SkipError("non-canonical optional flag")
            o += 4
            if present:
                self.soroban = o
                skip = (
                    skippers.skip_SorobanTransactionMetaV2
                    if version == 4
                    else skippers.skip_SorobanTransactionMeta
                )
                o = skip(raw, o)
        if version == 4:
            self.events = o
            o = _skip_list(raw, o, skippers.skip_TransactionEvent)
            self.diagnostics = o
            o = _skip_list(raw, o, skippers.skip_DiagnosticEvent)
        self.end = o


class _FastSource(_XdrSource):
    """`_XdrSource` reading the bytes at the offsets of `_MetaLayout`: entry changes are built from the bytes
    (`ledgers.fastentries`), events and return values decoded by stellar-sdk piece by piece."""

    __slots__ = ()

    def operations(self, tx: Transaction) -> tuple[Operation, ...]:
        lazy: _LazyTxRaw = tx._raw
        raw = lazy.processing.raw
        results = lazy.op_results
        network = self._network_id
        o = lazy.envelope.ops_offset
        out = []
        count = tx.operation_count
        for j in range(count):
            kind, account, muxed, body = operation_at(raw, o, tx.source_account, tx.source_muxed, network)
            if j + 1 < count:
                o = skippers.skip_Operation(raw, o)
            out.append(
                Operation(
                    index=j + 1,
                    type=kind,
                    source_account=account,
                    source_muxed=muxed,
                    body=body,
                    result=results[j] if results else None,
                    transaction_index=tx.index,
                    _source=self,
                    _raw=(lazy, j),
                )
            )
        return tuple(out)

    def changes(self, tx: Transaction, part: str) -> tuple[EntryChange, ...]:
        lazy: _LazyTxRaw = tx._raw
        p = lazy.processing
        if part == "fee":
            return changes_at(p.raw, p.fee_offset)
        if part == "post_apply_fee":
            return changes_at(p.raw, p.post_offset)
        if part == "before":
            return changes_at(p.raw, lazy.layout.before)
        if part == "after":
            return changes_at(p.raw, lazy.layout.after)
        raise ValueError(f"unknown change list {part!r}")

    def operation_changes(self, op: Operation) -> tuple[EntryChange, ...]:
        lazy, j = op._raw
        offsets = lazy.layout.op_changes
        # Failed transactions carry no operation meta.
        return changes_at(lazy.processing.raw, offsets[j]) if j < len(offsets) else ()

    def operation_events(self, op: Operation) -> tuple[ContractEvent, ...]:
        lazy, j = op._raw
        layout = lazy.layout
        if layout.version == 4:
            offsets = layout.op_events
            if j >= len(offsets):
                return ()
            return events_at(lazy.processing.raw, offsets[j])
        if j == 0:
            # Meta v3 keeps Soroban events at transaction level; a Soroban transaction has one operation.
            return _v3_soroban_events(lazy)
        return ()

    def events(self, tx: Transaction) -> tuple[TransactionEvent, ...]:
        lazy: _LazyTxRaw = tx._raw
        offset = lazy.layout.events
        if offset is None:
            return ()
        return transaction_events_at(lazy.processing.raw, offset)

    def soroban_events(self, tx: Transaction) -> tuple[ContractEvent, ...]:
        return _v3_soroban_events(tx._raw)

    def diagnostic_events(self, tx: Transaction) -> tuple[ContractEvent, ...]:
        lazy: _LazyTxRaw = tx._raw
        layout = lazy.layout
        if layout.diagnostics is not None:  # meta v4
            return diagnostic_events_at(lazy.processing.raw, layout.diagnostics)
        parts = lazy.soroban
        if parts is None or parts.diagnostics is None:
            return ()
        return diagnostic_events_at(lazy.processing.raw, parts.diagnostics)

    def return_value(self, tx: Transaction) -> ScValue | None:
        lazy: _LazyTxRaw = tx._raw
        parts = lazy.soroban
        return None if parts is None else parts.return_value


def _v3_soroban_events(lazy: _LazyTxRaw) -> tuple[ContractEvent, ...]:
    """The contract events of a meta v3 Soroban part (empty for other metas)."""
    parts = lazy.soroban
    if parts is None or parts.events is None:
        return ()
    return events_at(lazy.processing.raw, parts.events)


class FastLedgerView(LedgerView):
    """A `LedgerView` over raw bytes walked by the fast decoder (see the module docstring)."""

    def __init__(self, raw: bytes, network_passphrase: str) -> None:
        self.network_passphrase = network_passphrase
        self._network_id = xdrconv.network_id(network_passphrase)
        self._raw = raw
        try:
            with gc_paused():
                self._walk(raw)
        except FastDecodeError as exc:
            exc.sequence = getattr(self, "sequence", None)
            raise
        except skippers.UnknownArm as exc:
            raise FastDecodeError("unknown_arm", str(exc), getattr(self, "sequence", None)) from exc
        except skippers.SkipError as exc:
            raise FastDecodeError("invalid", str(exc), getattr(self, "sequence", None)) from exc
        except (struct.error, EOFError, IndexError) as exc:
            raise FastDecodeError("truncated", str(exc), getattr(self, "sequence", None)) from exc
        except (KeyError, ValueError) as exc:  # an enum value stellar-sdk does not know (header, result code)
            raise FastDecodeError("invalid", str(exc), getattr(self, "sequence", None)) from exc
        except RecursionError as exc:
            raise FastDecodeError("too_deep", "nesting deeper than the interpreter's stack", None) from exc

    # -- the walk ------------------------------------------------------------------------------------------------
    def _walk(self, raw: bytes) -> None:
        version = I32(raw, 0)[0]
        if version not in (0, 1, 2):
            raise skippers.UnknownArm("LedgerCloseMeta", version)
        self.lcm_version = version
        o = 4
        if version:
            o = skippers.skip_LedgerCloseMetaExt(raw, o)
        header_offset = o
        o = skippers.skip_LedgerHeaderHistoryEntry(raw, o)
        self._read_header(unpack_at(x.LedgerHeaderHistoryEntry, raw, header_offset))
        self._envelope_list: list[tuple[bytes, int, int]] = []  # (hash, kind, body offset)
        o = self._tx_set(raw, o, version)
        count = U32(raw, o)[0]
        o += 4
        if count > len(raw) - o:
            raise skippers.SkipError("tx_processing longer than the bytes left")
        processing: list[_Processing] = []
        for _ in range(count):
            if version == 2:  # TransactionResultMetaV1 starts with an ExtensionPoint
                o = skippers.skip_ExtensionPoint(raw, o)
            result_offset = o
            o = skippers.skip_TransactionResultPair(raw, o)
            fee_offset = o
            o = skippers.skip_LedgerEntryChanges(raw, o)
            meta_offset = o
            layout = _MetaLayout(raw, o)
            o = layout.end
            post = None
            if version == 2:
                post = o
                o = skippers.skip_LedgerEntryChanges(raw, o)
            processing.append(_Processing(raw, result_offset, fee_offset, meta_offset, layout, post))
        self._processing = processing
        self.transaction_count = count
        self._upgrades_offset = o
        o = _skip_list(raw, o, skippers.skip_UpgradeEntryMeta)
        o = _skip_list(raw, o, skippers.skip_SCPHistoryEntry)
        self._evicted_offset: int | None = None
        if version:
            o += 8  # totalByteSizeOfLiveSorobanState
            self._evicted_offset = o
            o = _skip_list(raw, o, skippers.skip_LedgerKey)
            if version == 1:
                o = _skip_list(raw, o, skippers.skip_LedgerEntry)
        if o != len(raw):
            kind = "trailing_bytes" if o < len(raw) else "truncated"
            raise FastDecodeError(kind, f"walk ended at byte {o} of {len(raw)}", self.sequence)

    def _tx_set(self, raw: bytes, o: int, version: int) -> int:
        if version == 0:
            return self._walk_envelopes(raw, o + 32)  # previousLedgerHash, then the envelopes
        if I32(raw, o)[0] != 1:
            raise skippers.UnknownArm("GeneralizedTransactionSet", I32(raw, o)[0])
        o += 36  # version, previousLedgerHash
        phases = _count(raw, o)
        o += 4
        for _ in range(phases):
            o = self._phase(raw, o)
        return o

    def _phase(self, raw: bytes, o: int) -> int:
        phase = I32(raw, o)[0]
        o += 4
        if phase == 0:
            n = _count(raw, o)
            o += 4
            for _ in range(n):
                component = I32(raw, o)[0]
                if component != 0:
                    raise skippers.UnknownArm("TxSetComponent", component)
                o += 4
                o += 12 if U32(raw, o)[0] else 4  # optional base fee
                o = self._walk_envelopes(raw, o)
            return o
        if phase == 1:
            o += 12 if U32(raw, o)[0] else 4  # optional base fee
            stages = _count(raw, o)
            o += 4
            for _ in range(stages):
                clusters = _count(raw, o)
                o += 4
                for _ in range(clusters):
                    o = self._walk_envelopes(raw, o)
            return o
        raise skippers.UnknownArm("TransactionPhase", phase)

    def _walk_envelopes(self, raw: bytes, o: int) -> int:
        n = _count(raw, o)
        o += 4
        network_id = self._network_id
        found = self._envelope_list
        for _ in range(n):
            kind = I32(raw, o)[0]
            start = o + 4
            if kind == _ENV_TX:
                end = skippers.skip_Transaction(raw, start)
                prefix = _PREFIX_TX
            elif kind == _ENV_FEE_BUMP:
                end = skippers.skip_FeeBumpTransaction(raw, start)
                prefix = _PREFIX_FEE_BUMP
            elif kind == _ENV_V0:
                end = skippers.skip_TransactionV0(raw, start)
                prefix = _PREFIX_TX_V0
            else:
                raise skippers.UnknownArm("TransactionEnvelope", kind)
            digest = hashlib.sha256(network_id)
            digest.update(prefix)
            digest.update(raw[start:end])
            found.append((digest.digest(), kind, start))
            o = _skip_list(raw, end, skippers.skip_DecoratedSignature)
        return o

    # -- what LedgerView hands out -------------------------------------------------------------------------------
    @cached_property
    def tx_set_size(self) -> int:
        return len(self._envelope_list)

    def _build_transactions(self) -> tuple[Transaction, ...]:
        raw = self._raw
        by_hash = {tx_hash: (kind, offset) for tx_hash, kind, offset in self._envelope_list}
        source = _FastSource(self._network_id)
        out = []
        for i, processing in enumerate(self._processing):
            o = processing.result_offset
            tx_hash = raw[o : o + 32]
            found = by_hash.pop(tx_hash, None)
            if found is None:
                raise EnvelopeMismatch(
                    f"ledger {self.sequence}: transaction {tx_hash.hex()} (index {i + 1}) has no envelope hashing "
                    f"to it with network passphrase {self.network_passphrase!r}"
                )
            kind, body_offset = found
            envelope = _Envelope(raw, kind, body_offset)
            fee_charged = _I64(raw, o + 32)[0]
            code = I32(raw, o + 40)[0]
            inner_hash = None
            fee_bump = kind == _ENV_FEE_BUMP
            if fee_bump:
                inner_hash = raw[o + 44 : o + 76].hex()
            out.append(
                Transaction(
                    index=i + 1,
                    hash=tx_hash.hex(),
                    successful=code in (_TX_SUCCESS, _TX_FEE_BUMP_INNER_SUCCESS),
                    result_code=_RESULT_NAMES[code],
                    fee_charged=fee_charged,
                    max_fee=envelope.max_fee,
                    source_account=envelope.source,
                    source_muxed=envelope.source_muxed,
                    fee_account=envelope.fee_account,
                    fee_muxed=envelope.fee_muxed,
                    inner_hash=inner_hash,
                    memo=envelope.memo,
                    sequence_number=envelope.seq,
                    meta_version=I32(raw, processing.meta_offset)[0],
                    operation_count=envelope.op_count,
                    _source=source,
                    _raw=_LazyTxRaw(processing, envelope, fee_bump),
                )
            )
        return tuple(out)

    @cached_property
    def has_unified_events(self) -> bool:
        """Whether any meta v4 transaction-level event has ``fee`` as its first topic (read from the bytes)."""
        raw = self._raw
        for processing in self._processing:
            o = processing.layout.events
            if o is None:  # not meta v4
                continue
            events = U32(raw, o)[0]
            o += 4
            for _ in range(events):
                o += 8  # stage, ExtensionPoint
                o += 36 if U32(raw, o)[0] else 4  # optional contract id
                o += 8  # event type, body version
                topics = U32(raw, o)[0]
                if (
                    topics
                    and I32(raw, o + 4)[0] == _SCV_SYMBOL
                    and raw[o + 8 : o + 15] == b"\x00\x00\x00\x03fee"
                ):
                    return True
                o = _skip_list(raw, o, skippers.skip_SCVal)
                o = skippers.skip_SCVal(raw, o)
        return False

    def _upgrade_items(self) -> list[x.UpgradeEntryMeta]:
        return _unpack_list_at(x.UpgradeEntryMeta, self._raw, self._upgrades_offset)

    def _evicted_items(self) -> list[x.LedgerKey]:
        if self._evicted_offset is None:
            return []
        return _unpack_list_at(x.LedgerKey, self._raw, self._evicted_offset)


def _count(raw: bytes, o: int) -> int:
    n: int = U32(raw, o)[0]
    if n > len(raw) - o - 4:
        raise skippers.SkipError("array longer than the bytes left")
    return n


def _skip_list(raw: bytes, o: int, skip: Any) -> int:
    n = _count(raw, o)
    o += 4
    for _ in range(n):
        o = skip(raw, o)
    return o
