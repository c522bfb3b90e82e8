# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""Decode raw ``LedgerCloseMeta`` XDR with stellar-sdk, and hash every envelope from its own bytes.

The decode is stellar-sdk's, type by type, except for the top two levels (``LedgerCloseMeta`` v0/v1/v2 and
the transaction sets), which are walked here so that each envelope's transaction body is located in the raw
bytes while it is decoded. The transaction hash is the sha256 of ``network id ‖ envelope type ‖ body XDR``;
hashing the stored bytes instead of re-encoding the decoded body with stellar-sdk (30% of the view's
conversion time, measured) is what this module is for. The result is the same ``LedgerCloseMeta`` object that
``LedgerCloseMeta.from_xdr_bytes`` returns (a test checks it re-encodes to the input).

The cyclic collector is paused during the decode: see `ledgers.model.gc_paused`. The bytes are read through
`ledgers.unpacker.FastUnpacker` (the same values as xdrlib3's, read more cheaply).
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from stellar_sdk import xdr as x

from ledgers.model import gc_paused
from ledgers.unpacker import FastUnpacker

__all__ = ["DecodedLedger", "decode_ledger"]

_DEPTH = 500  # stellar-sdk's default limit (512) minus the levels walked here
_ENV_V0 = x.EnvelopeType.ENVELOPE_TYPE_TX_V0.value
_ENV_TX = x.EnvelopeType.ENVELOPE_TYPE_TX.value
_ENV_FEE_BUMP = x.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP.value
# A V0 envelope hashes as an ENVELOPE_TYPE_TX whose source is a plain ed25519 MuxedAccount: tag 0, then the V0
# body, whose layout (key, fee, seq, optional time bounds = precondition arm) matches the V1 body byte for byte.
_PREFIX_TX = struct.pack(">I", _ENV_TX)
_PREFIX_TX_V0 = struct.pack(">II", _ENV_TX, 0)
_PREFIX_FEE_BUMP = struct.pack(">I", _ENV_FEE_BUMP)


class DecodedLedger:
    """A decoded ``LedgerCloseMeta`` and the hash of each of its envelopes, in transaction set order."""

    __slots__ = ("envelopes", "meta")

    def __init__(self, meta: x.LedgerCloseMeta, envelopes: list[tuple[bytes, x.TransactionEnvelope]]) -> None:
        self.meta = meta
        self.envelopes = envelopes


def decode_ledger(raw: bytes, network_id: bytes) -> DecodedLedger:
    """Decode `raw` and hash its envelopes for the network whose id (sha256 of the passphrase) is `network_id`."""
    with gc_paused():
        return _Reader(raw, network_id).ledger()


def envelope_hash(envelope: x.TransactionEnvelope, network_id: bytes) -> bytes:
    """The transaction hash of a decoded envelope, by re-encoding its body (for views built from objects)."""
    kind = envelope.type.value
    if kind == _ENV_TX:
        payload = _PREFIX_TX + envelope.v1.tx.to_xdr_bytes()
    elif kind == _ENV_FEE_BUMP:
        payload = _PREFIX_FEE_BUMP + envelope.fee_bump.tx.to_xdr_bytes()
    else:
        payload = _PREFIX_TX_V0 + envelope.v0.tx.to_xdr_bytes()
    return hashlib.sha256(network_id + payload).digest()


class _Reader:
    def __init__(self, raw: bytes, network_id: bytes) -> None:
        self.raw = raw
        self.view = memoryview(raw)
        self.network_id = network_id
        self.u = FastUnpacker(raw)
        self.envelopes: list[tuple[bytes, x.TransactionEnvelope]] = []

    def ledger(self) -> DecodedLedger:
        u = self.u
        version = u.unpack_int()
        if version == 0:
            meta = x.LedgerCloseMeta(0, v0=self._v0())
        elif version == 1:
            meta = x.LedgerCloseMeta(1, v1=self._v1(x.LedgerCloseMetaV1, x.TransactionResultMeta))
        elif version == 2:
            meta = x.LedgerCloseMeta(2, v2=self._v1(x.LedgerCloseMetaV2, x.TransactionResultMetaV1))
        else:
            raise ValueError(f"unknown LedgerCloseMeta version {version}")
        remaining = len(self.raw) - u.get_position()
        if remaining:
            raise ValueError(f"unexpected trailing {remaining} bytes after the LedgerCloseMeta")
        return DecodedLedger(meta, self.envelopes)

    def _list(self, cls: Any) -> list[Any]:
        u = self.u
        return [cls.unpack(u, _DEPTH) for _ in range(u.unpack_uint())]

    def _v0(self) -> x.LedgerCloseMetaV0:
        u = self.u
        header = x.LedgerHeaderHistoryEntry.unpack(u, _DEPTH)
        previous = x.Hash.unpack(u, _DEPTH)
        tx_set = x.TransactionSet(previous, self._envelope_list())
        return x.LedgerCloseMetaV0(
            ledger_header=header,
            tx_set=tx_set,
            tx_processing=self._list(x.TransactionResultMeta),
            upgrades_processing=self._list(x.UpgradeEntryMeta),
            scp_info=self._list(x.SCPHistoryEntry),
        )

    def _v1(self, cls: Any, processing_cls: Any) -> Any:
        u = self.u
        ext = x.LedgerCloseMetaExt.unpack(u, _DEPTH)
        header = x.LedgerHeaderHistoryEntry.unpack(u, _DEPTH)
        tx_set = self._generalized_tx_set()
        fields = {
            "ext": ext,
            "ledger_header": header,
            "tx_set": tx_set,
            "tx_processing": self._list(processing_cls),
            "upgrades_processing": self._list(x.UpgradeEntryMeta),
            "scp_info": self._list(x.SCPHistoryEntry),
            "total_byte_size_of_live_soroban_state": x.Uint64.unpack(u, _DEPTH),
            "evicted_keys": self._list(x.LedgerKey),
        }
        if cls is x.LedgerCloseMetaV1:
            fields["unused"] = self._list(x.LedgerEntry)
        return cls(**fields)

    def _generalized_tx_set(self) -> x.GeneralizedTransactionSet:
        u = self.u
        version = u.unpack_int()
        if version != 1:
            raise ValueError(f"unknown GeneralizedTransactionSet version {version}")
        previous = x.Hash.unpack(u, _DEPTH)
        phases = []
        for _ in range(u.unpack_uint()):
            phase_version = u.unpack_int()
            if phase_version == 0:
                components = []
                for _ in range(u.unpack_uint()):
                    kind = x.TxSetComponentType.unpack(u)
                    base_fee = x.Int64.unpack(u) if u.unpack_uint() else None
                    components.append(
                        x.TxSetComponent(
                            kind,
                            txs_maybe_discounted_fee=x.TxSetComponentTxsMaybeDiscountedFee(
                                base_fee, self._envelope_list()
                            ),
                        )
                    )
                phases.append(x.TransactionPhase(0, v0_components=components))
            elif phase_version == 1:
                base_fee = x.Int64.unpack(u) if u.unpack_uint() else None
                stages = []
                for _ in range(u.unpack_uint()):
                    clusters = [x.DependentTxCluster(self._envelope_list()) for _ in range(u.unpack_uint())]
                    stages.append(x.ParallelTxExecutionStage(clusters))
                phases.append(
                    x.TransactionPhase(1, parallel_txs_component=x.ParallelTxsComponent(base_fee, stages))
                )
            else:
                raise ValueError(f"unknown TransactionPhase version {phase_version}")
        return x.GeneralizedTransactionSet(1, v1_tx_set=x.TransactionSetV1(previous, phases))

    def _envelope_list(self) -> list[x.TransactionEnvelope]:
        return [self._envelope() for _ in range(self.u.unpack_uint())]

    def _envelope(self) -> x.TransactionEnvelope:
        u = self.u
        kind = u.unpack_int()
        start = u.get_position()
        tx: Any
        if kind == _ENV_TX:
            tx = x.Transaction.unpack(u, _DEPTH)
            prefix = _PREFIX_TX
        elif kind == _ENV_FEE_BUMP:
            tx = x.FeeBumpTransaction.unpack(u, _DEPTH)
            prefix = _PREFIX_FEE_BUMP
        elif kind == _ENV_V0:
            tx = x.TransactionV0.unpack(u, _DEPTH)
            prefix = _PREFIX_TX_V0
        else:
            raise ValueError(f"unknown envelope type {kind}")
        body = self.view[start : u.get_position()]
        signatures = self._list(x.DecoratedSignature)
        if kind == _ENV_TX:
            envelope = x.TransactionEnvelope(x.EnvelopeType(kind), v1=x.TransactionV1Envelope(tx, signatures))
        elif kind == _ENV_FEE_BUMP:
            envelope = x.TransactionEnvelope(
                x.EnvelopeType(kind), fee_bump=x.FeeBumpTransactionEnvelope(tx, signatures)
            )
        else:
            envelope = x.TransactionEnvelope(x.EnvelopeType(kind), v0=x.TransactionV0Envelope(tx, signatures))
        digest = hashlib.sha256(self.network_id)
        digest.update(prefix)
        digest.update(body)
        self.envelopes.append((digest.digest(), envelope))
        return envelope
