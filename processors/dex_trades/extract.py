"""DEX trade rows of one ledger, from the claim atoms in operation results (REFERENCE §4 ``dex_trades``).

**Which atoms are trades.** The claim atoms of SUCCESSFUL ManageSellOffer, ManageBuyOffer and
CreatePassiveSellOffer operations (``offers_claimed``) and PathPaymentStrictSend / StrictReceive operations
(``offers``) inside SUCCESSFUL transactions: order book atoms (v0 and v1) and liquidity pool atoms. A failed
transaction rolls its operations back, so the atoms its earlier (successful) operations report are not trades;
an atom with both amounts zero is an offer stellar-core removed because it was no longer funded, not a trade
(Horizon and stellar-etl skip those too). Every row therefore has ``in_successful_tx = True``.

**Sides.** A trade is read from the SELLER's side, exactly as the claim atom is: the seller is the offer owner
(``seller``; null for a pool, which is named by ``pool_id``), who gave ``sold_amount`` of ``sold_asset`` and
received ``bought_amount`` of ``bought_asset``. The ``buyer`` is the account that crossed it: the operation's
source, else the transaction's (for a fee bump, the inner transaction's), always as ``G…``, with the ``M…``
form in ``buyer_muxed`` when the source was muxed. This is stellar-etl's trade effect for the offer owner and
Horizon's trade with ``base_is_seller``, minus Horizon's reordering of assets.

**Price.** ``price_n/price_d`` is ``bought_amount/sold_amount`` in lowest terms: what the seller got per unit
it sold, the orientation of an offer's own price (buying per selling). ``price`` writes it as a decimal string
(`pairs.decimal_text`). ``pair`` is the canonical ``BASE/COUNTER`` of the two assets (`pairs.canonical_pair`),
whatever side each was on; candles (`processors.dex_volume`) quote COUNTER per BASE.

**Order key.** ``operation_index`` is the operation's (1-based) index; ``event_index`` and ``trade_index``
are both the atom's 0-based position among ALL claim atoms of the operation's result, zero-amount ones
included, so ``(ledger, transaction, operation, event_index)`` is unique and an id never shifts when an
atom is skipped. This is Horizon's trade ``order`` (its paging token is ``<operation TOID>-<order>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.ids import row_id
from ledgers.model import ClaimAtom, Operation, Transaction
from ledgers.view import LedgerView
from processors.dex_trades.pairs import canonical_pair, decimal_text, reduced

__all__ = ["TABLE", "TRADING_OPERATIONS", "extract"]

TABLE = "dex_trades"
TRADING_OPERATIONS = frozenset(
    {
        "MANAGE_SELL_OFFER",
        "MANAGE_BUY_OFFER",
        "CREATE_PASSIVE_SELL_OFFER",
        "PATH_PAYMENT_STRICT_SEND",
        "PATH_PAYMENT_STRICT_RECEIVE",
    }
)
_TRADE_TYPES = {"order_book": "orderbook", "order_book_v0": "orderbook", "liquidity_pool": "liquidity_pool"}

Row = dict[str, Any]


def extract(view: LedgerView) -> Mapping[str, list[Row]]:
    """``{"dex_trades": rows}`` for one ledger, in apply order."""
    sequence = view.sequence
    closed_at = view.closed_at
    rows: list[Row] = []
    for tx in view.transactions:
        if not tx.successful:
            continue
        for op in tx.operations:
            if op.type not in TRADING_OPERATIONS:
                continue
            result = op.result
            if result is None or not result.successful:
                continue  # never in a successful transaction; the check keeps the rule explicit
            for position, atom in enumerate(result.claim_atoms):
                if atom.amount_sold == 0 and atom.amount_bought == 0:
                    continue
                rows.append(_row(sequence, closed_at, tx, op, position, atom))
    return {TABLE: rows}


def _row(
    sequence: int, closed_at: datetime, tx: Transaction, op: Operation, position: int, atom: ClaimAtom
) -> Row:
    price = reduced(atom.amount_bought, atom.amount_sold)
    return {
        "id": row_id(sequence, tx.index, op.index, position),
        "ledger_sequence": sequence,
        "closed_at": closed_at,
        "tx_hash": tx.hash,
        "transaction_index": tx.index,
        "operation_index": op.index,
        "event_index": position,
        "in_successful_tx": True,
        "trade_index": position,
        "trade_type": _TRADE_TYPES[atom.kind],
        "seller": atom.seller,
        "buyer": op.source_account,
        "buyer_muxed": op.source_muxed,
        "offer_id": atom.offer_id,
        "pool_id": atom.pool_id,
        "sold_asset": atom.asset_sold,
        "sold_amount": atom.amount_sold,
        "bought_asset": atom.asset_bought,
        "bought_amount": atom.amount_bought,
        "price_n": None if price is None else price[0],
        "price_d": None if price is None else price[1],
        "price": None if price is None else decimal_text(*price),
        "pair": canonical_pair(atom.asset_sold, atom.asset_bought),
    }
