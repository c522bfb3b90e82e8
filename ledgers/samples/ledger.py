"""One closed sample ledger: header, hash chain, generalized transaction set and ``LedgerCloseMeta`` v2.

The header commits to the transaction set (``scpValue.txSetHash``, sha256 of the ``GeneralizedTransactionSet``)
and to the results (``txSetResultHash``, sha256 of the ``TransactionResultSet``); the ledger hash is sha256 of
the header XDR, and the next header's ``previousLedgerHash`` points at it. The SCP value is signed by the
sample validator as stellar-core signs it. The set has stellar-core's two phases: classic transactions in one
discounted-fee component, Soroban transactions in one parallel stage (one cluster each); within both,
envelopes are sorted by hash, as stellar-core sorts them, so they are NOT in apply order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from stellar_sdk import xdr as x

from .keys import Cast
from .state import BASE_RESERVE
from .transactions import BASE_FEE, AppliedTx
from .xdrkit import hash32, i64, sha256, u32, u64

PROTOCOL = 26  # LedgerCloseMeta v2, meta v4, refunds at AFTER_ALL_TXS: the layout of today's pubnet
TOTAL_COINS = 100_000_000_000 * 10_000_000  # 100 billion XLM, in stroops
MAX_TX_SET_SIZE = 1_000
SOROBAN_FEE_WRITE_1KB = 1_000


@dataclass(frozen=True)
class HeaderInputs:
    """What the header of one ledger needs besides its transactions."""

    sequence: int
    close_time: int
    previous_hash: bytes
    fee_pool: int
    id_pool: int
    live_soroban_state_size: int


def _tx_set(applied: list[AppliedTx], previous_hash: bytes) -> x.GeneralizedTransactionSet:
    classic = sorted((tx for tx in applied if tx.spec.soroban is None), key=lambda tx: tx.hash)
    soroban = sorted((tx for tx in applied if tx.spec.soroban is not None), key=lambda tx: tx.hash)
    component = x.TxSetComponent(
        x.TxSetComponentType.TXSET_COMP_TXS_MAYBE_DISCOUNTED_FEE,
        txs_maybe_discounted_fee=x.TxSetComponentTxsMaybeDiscountedFee(
            i64(BASE_FEE), [tx.envelope for tx in classic]
        ),
    )
    stage = x.ParallelTxExecutionStage([x.DependentTxCluster([tx.envelope]) for tx in soroban])
    parallel = x.ParallelTxsComponent(i64(BASE_FEE), [stage] if soroban else [])
    phases = [
        x.TransactionPhase(0, v0_components=[component]),
        x.TransactionPhase(1, parallel_txs_component=parallel),
    ]
    return x.GeneralizedTransactionSet(1, v1_tx_set=x.TransactionSetV1(hash32(previous_hash), phases))


def _signed_value(tx_set_hash: bytes, close_time: int, cast: Cast) -> x.StellarValue:
    """The SCP value, signed over (network id, ENVELOPE_TYPE_SCPVALUE, tx set hash, close time)."""
    network_id = sha256(cast.network_passphrase.encode())
    payload = (
        network_id
        + struct.pack(">I", x.EnvelopeType.ENVELOPE_TYPE_SCPVALUE.value)
        + tx_set_hash
        + struct.pack(">Q", close_time)
    )
    validator = cast.keypairs["validator"]
    signature = x.LedgerCloseValueSignature(
        x.NodeID(validator.xdr_public_key()), x.Signature(validator.sign(payload))
    )
    ext = x.StellarValueExt(x.StellarValueType.STELLAR_VALUE_SIGNED, lc_value_signature=signature)
    return x.StellarValue(hash32(tx_set_hash), x.TimePoint(u64(close_time)), [], ext)


def build_ledger(inputs: HeaderInputs, applied: list[AppliedTx], cast: Cast) -> x.LedgerCloseMeta:
    """The ``LedgerCloseMeta`` v2 of one ledger whose transactions (in apply order) are `applied`."""
    tx_set = _tx_set(applied, inputs.previous_hash)
    results = x.TransactionResultSet([tx.result_pair() for tx in applied])
    header = x.LedgerHeader(
        ledger_version=u32(PROTOCOL),
        previous_ledger_hash=hash32(inputs.previous_hash),
        scp_value=_signed_value(sha256(tx_set.to_xdr_bytes()), inputs.close_time, cast),
        tx_set_result_hash=hash32(sha256(results.to_xdr_bytes())),
        # No bucket list exists behind the samples; a per-ledger digest keeps the field plausible and unique.
        bucket_list_hash=hash32(sha256(b"obsrvr-sample-bucket-list" + struct.pack(">I", inputs.sequence))),
        ledger_seq=u32(inputs.sequence),
        total_coins=i64(TOTAL_COINS),
        fee_pool=i64(inputs.fee_pool),
        inflation_seq=u32(0),
        id_pool=u64(inputs.id_pool),
        base_fee=u32(BASE_FEE),
        base_reserve=u32(BASE_RESERVE),
        max_tx_set_size=u32(MAX_TX_SET_SIZE),
        skip_list=[hash32(bytes(32))] * 4,
        ext=x.LedgerHeaderExt(0),
    )
    entry = x.LedgerHeaderHistoryEntry(
        hash32(sha256(header.to_xdr_bytes())), header, x.LedgerHeaderHistoryEntryExt(0)
    )
    meta = x.LedgerCloseMetaV2(
        ext=x.LedgerCloseMetaExt(
            1, v1=x.LedgerCloseMetaExtV1(x.ExtensionPoint(0), i64(SOROBAN_FEE_WRITE_1KB))
        ),
        ledger_header=entry,
        tx_set=tx_set,
        tx_processing=[tx.meta() for tx in applied],
        upgrades_processing=[],
        scp_info=[],
        total_byte_size_of_live_soroban_state=u64(inputs.live_soroban_state_size),
        evicted_keys=[],
    )
    return x.LedgerCloseMeta(2, v2=meta)


def ledger_hash(meta: x.LedgerCloseMeta) -> bytes:
    assert meta.v2 is not None
    return meta.v2.ledger_header.hash.hash
