# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the walk reads the arms the data holds.)
"""Tests of the DEXTradeProcessor on the real corpus, and a direct XDR walk to check it against.

`walk_trades` reads the trades of a ledger straight from stellar-sdk's decoded XDR, without `LedgerView` or any
project code: claim atoms in the results of the five trading operations, success taken from the transaction
and operation result codes, the buyer from the envelope (matched to its result by a transaction hash computed
here), assets and strkeys rendered with stellar-sdk, on the ledger as stellar-sdk alone decodes it. Each corpus
ledger is decoded once per session for every processor package (tests/corpus.py); `corpus_ledger` reads the
extracted rows and the walk's findings kept of it (a decoded ledger is ~1M Python objects).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stellar_sdk import StrKey
from stellar_sdk import xdr as x

from tests import corpus
from tests.corpus import MAINNET_20, RECONSTRUCTED_DIR, reconstructed_files

__all__ = [
    "MAINNET_20",
    "RECONSTRUCTED_DIR",
    "CorpusLedger",
    "Walk",
    "WalkTrade",
    "corpus_ledger",
    "trade_files",
]

MAINNET_OTHER = (*corpus.MAINNET_OTHER, "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd")

_SUCCESS = (x.TransactionResultCode.txSUCCESS, x.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS)
_OT = x.OperationType
# operation type -> (attribute of the result union, attribute holding the atoms in its success arm)
_TRADING = {
    _OT.MANAGE_SELL_OFFER: ("manage_sell_offer_result", "offers_claimed"),
    _OT.MANAGE_BUY_OFFER: ("manage_buy_offer_result", "offers_claimed"),
    _OT.CREATE_PASSIVE_SELL_OFFER: ("create_passive_sell_offer_result", "offers_claimed"),
    _OT.PATH_PAYMENT_STRICT_SEND: ("path_payment_strict_send_result", "offers"),
    _OT.PATH_PAYMENT_STRICT_RECEIVE: ("path_payment_strict_receive_result", "offers"),
}


@dataclass(frozen=True)
class WalkTrade:
    """One trade as the walk sees it (the fields a row must reproduce)."""

    ledger_sequence: int
    transaction_index: int
    operation_index: int
    trade_index: int
    trade_type: str
    seller: str | None
    buyer: str
    offer_id: int | None
    pool_id: str | None
    sold_asset: str
    sold_amount: int
    bought_asset: str
    bought_amount: int


@dataclass(frozen=True)
class Walk:
    """A ledger's trades, and its claim atoms counted: all, inside failed transactions, zero-amount ones of
    successful transactions."""

    trades: tuple[WalkTrade, ...]
    atoms: int
    atoms_in_failed_txs: int
    zero_atoms: int


def _asset(asset: x.Asset) -> str:
    if asset.type == x.AssetType.ASSET_TYPE_NATIVE:
        return "native"
    alpha = asset.alpha_num4 or asset.alpha_num12
    code_holder = alpha.asset_code
    code = getattr(code_holder, "asset_code4", None) or code_holder.asset_code12
    issuer = StrKey.encode_ed25519_public_key(alpha.issuer.account_id.ed25519.uint256)
    return code.rstrip(b"\x00").decode() + ":" + issuer


def _account(muxed: x.MuxedAccount) -> str:
    key = muxed.ed25519.uint256 if muxed.ed25519 is not None else muxed.med25519.ed25519.uint256
    return StrKey.encode_ed25519_public_key(key)


def _inner(envelope: x.TransactionEnvelope) -> tuple[str, list[x.Operation]]:
    """The source account and operations of the transaction that ran (the inner one of a fee bump)."""
    if envelope.v0 is not None:
        tx0 = envelope.v0.tx
        return StrKey.encode_ed25519_public_key(tx0.source_account_ed25519.uint256), tx0.operations
    tx = envelope.v1.tx if envelope.v1 is not None else envelope.fee_bump.tx.inner_tx.v1.tx
    return _account(tx.source_account), tx.operations


def _hash(envelope: x.TransactionEnvelope, network_id: bytes) -> bytes:
    """The transaction hash (what ``TransactionResultPair.transaction_hash`` holds)."""
    if envelope.fee_bump is not None:
        tagged = x.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP.to_xdr_bytes() + envelope.fee_bump.tx.to_xdr_bytes()
    elif envelope.v1 is not None:
        tagged = x.EnvelopeType.ENVELOPE_TYPE_TX.to_xdr_bytes() + envelope.v1.tx.to_xdr_bytes()
    else:  # a v0 envelope is hashed as the v1 transaction it stands for
        tx0 = envelope.v0.tx
        cond = (
            x.Preconditions(x.PreconditionType.PRECOND_TIME, time_bounds=tx0.time_bounds)
            if tx0.time_bounds is not None
            else x.Preconditions(x.PreconditionType.PRECOND_NONE)
        )
        tx = x.Transaction(
            x.MuxedAccount(x.CryptoKeyType.KEY_TYPE_ED25519, ed25519=tx0.source_account_ed25519),
            tx0.fee,
            tx0.seq_num,
            cond,
            tx0.memo,
            tx0.operations,
            x.TransactionExt(0),
        )
        tagged = x.EnvelopeType.ENVELOPE_TYPE_TX.to_xdr_bytes() + tx.to_xdr_bytes()
    return hashlib.sha256(network_id + tagged).digest()


def _trades_of(envelope: x.TransactionEnvelope) -> bool:
    return any(op.body.type in _TRADING for op in _inner(envelope)[1])


def walk_trades(meta: x.LedgerCloseMeta, passphrase: str) -> Walk:
    """Every trade of a ledger, straight from the decoded XDR (see the module docstring)."""
    lcm = meta.v0 or meta.v1 or meta.v2
    sequence = lcm.ledger_header.header.ledger_seq.uint32
    network_id = hashlib.sha256(passphrase.encode()).digest()
    # Only envelopes holding a trading operation are hashed: hashing means re-encoding the transaction.
    by_hash = {_hash(env, network_id): env for env in corpus.sdk_envelopes(meta) if _trades_of(env)}
    trades: list[WalkTrade] = []
    atoms = failed_atoms = zero_atoms = 0
    for tx_index, processing in enumerate(lcm.tx_processing, start=1):
        pair = processing.result
        outer = pair.result.result
        tx_ok = outer.code in _SUCCESS
        results = (
            outer.results
            if outer.inner_result_pair is None
            else outer.inner_result_pair.result.result.results
        )
        for op_index, op_result in enumerate(results or [], start=1):
            if op_result.code != x.OperationResultCode.opINNER or op_result.tr.type not in _TRADING:
                continue
            result_attr, atoms_attr = _TRADING[op_result.tr.type]
            inner = getattr(op_result.tr, result_attr)
            if inner.code.value != 0:  # every *_SUCCESS code is 0
                continue
            claimed = getattr(inner.success, atoms_attr)
            atoms += len(claimed)
            if not tx_ok:
                failed_atoms += len(claimed)
                continue
            tx_source, operations = _inner(by_hash[pair.transaction_hash.hash])
            operation = operations[op_index - 1]
            buyer = tx_source if operation.source_account is None else _account(operation.source_account)
            for position, atom in enumerate(claimed):
                trade = _walk_trade(atom, sequence, tx_index, op_index, position, buyer)
                if trade is None:
                    zero_atoms += 1
                else:
                    trades.append(trade)
    return Walk(tuple(trades), atoms, failed_atoms, zero_atoms)


def _walk_trade(
    atom: x.ClaimAtom, sequence: int, tx_index: int, op_index: int, position: int, buyer: str
) -> WalkTrade | None:
    seller: str | None = None
    offer_id: int | None = None
    pool_id: str | None = None
    if atom.type == x.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL:
        body: Any = atom.liquidity_pool
        pool_id = StrKey.encode_liquidity_pool(body.liquidity_pool_id.pool_id.hash)
        kind = "liquidity_pool"
    elif atom.type == x.ClaimAtomType.CLAIM_ATOM_TYPE_V0:
        body = atom.v0
        seller = StrKey.encode_ed25519_public_key(body.seller_ed25519.uint256)
        offer_id = body.offer_id.int64
        kind = "orderbook"
    else:
        body = atom.order_book
        seller = StrKey.encode_ed25519_public_key(body.seller_id.account_id.ed25519.uint256)
        offer_id = body.offer_id.int64
        kind = "orderbook"
    sold, bought = body.amount_sold.int64, body.amount_bought.int64
    if sold == 0 and bought == 0:
        return None
    return WalkTrade(
        sequence,
        tx_index,
        op_index,
        position,
        kind,
        seller,
        buyer,
        offer_id,
        pool_id,
        _asset(body.asset_sold),
        sold,
        _asset(body.asset_bought),
        bought,
    )


@dataclass(frozen=True)
class CorpusLedger:
    """One corpus ledger: where it is, its sequence, the extracted rows and the direct walk's findings."""

    file: str
    index: int
    sequence: int
    rows: tuple[dict[str, Any], ...]
    walk: Walk


def trade_files(root: Path) -> tuple[str, ...]:
    """Every corpus file the trade tests cover (one ledger each)."""
    return MAINNET_20 + MAINNET_OTHER + reconstructed_files(root)


@corpus.facts("dex_trades")
def _walk(decoded: corpus.Decoded) -> Walk:
    return walk_trades(decoded.meta, decoded.passphrase)


def corpus_ledger(root: Path, file: str, index: int = 0) -> CorpusLedger:
    """Ledger number `index` of corpus `file`: the extracted rows and the walk (decoded once per session)."""
    ledger = corpus.ledger(root, file, index)
    return CorpusLedger(
        file, index, ledger.sequence, tuple(ledger.rows("dex_trades")), ledger.facts("dex_trades")
    )
