"""Trading operations of the samples: a manage sell offer and a strict-send path payment.

Both cross liquidity through `cross`, which settles the maker's side (an offer's seller, or a pool), keeps the
seller's liabilities equal to what its offers reserve, and emits the pair of CAP-67 transfers stellar-core emits
per claim atom (taker → maker, maker → taker). The taker's side differs: a manage offer settles both assets on
the taker, while a path payment debits only the sent asset from its source and credits only the received asset
to its destination, with a final source → destination transfer (intermediate assets are never held).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import stellar_sdk
from stellar_sdk import Asset, Price
from stellar_sdk import xdr as x

from .classic import OP, op_result
from .context import OpContext
from .entries import AccountRecord, OfferRecord, PoolRecord, TrustlineRecord
from .state import LedgerState, SampleError
from .xdrkit import account_id, amount_string, asset_xdr, hash32, i64

_BP = 10_000  # basis points


@dataclass(frozen=True)
class Fill:
    """One claim atom to execute: the maker (an offer or a pool) sells `sold` of one asset for `bought`."""

    offer: OfferRecord | None
    pool: PoolRecord | None
    sold: int
    bought: int


def book_fills(
    state: LedgerState, give: Asset, get: Asset, amount_in: int, limit: tuple[int, int] | None = None
) -> list[Fill]:
    """Offers selling `get` for `give` that `amount_in` of `give` takes, best first.

    `limit` is the taker's price ``(n, d)``: at least ``n/d`` of `get` per unit of `give` (a sell offer's
    price); offers asking more are not crossed.
    """
    fills: list[Fill] = []
    remaining = amount_in
    for offer in state.offers(selling=get, buying=give):
        if remaining <= 0:
            break
        if limit is not None and offer.price_n * limit[0] > offer.price_d * limit[1]:
            break
        sold = min(offer.amount, remaining * offer.price_d // offer.price_n)
        if sold <= 0:
            break
        bought = -(-sold * offer.price_n // offer.price_d)
        fills.append(Fill(offer, None, sold, bought))
        remaining -= bought
    return fills


def pool_fill(state: LedgerState, pool_id: bytes, give: Asset, amount_in: int) -> Fill:
    """The constant-product swap of `amount_in` of `give` into the pool's other asset (fee on the input)."""
    pool = state.pool(pool_id)
    reserve_in = pool.reserve(give)
    reserve_out = pool.reserve_a if give == pool.asset_b else pool.reserve_b
    kept = _BP - pool.fee_bp
    out = reserve_out * amount_in * kept // (reserve_in * _BP + amount_in * kept)
    return Fill(None, pool, out, amount_in)


def cross(ctx: OpContext, taker: str, give: Asset, get: Asset, fill: Fill) -> x.ClaimAtom:
    """Settle the maker's side of `fill`, emit its two transfers, and return its claim atom."""
    if fill.pool is not None:
        maker = ctx.cast.pool_strkey
        ctx.credit(maker, give, fill.bought)
        ctx.credit(maker, get, -fill.sold)
        atom = x.ClaimAtom(
            x.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL,
            liquidity_pool=x.ClaimLiquidityAtom(
                x.PoolID(hash32(fill.pool.pool_id)),
                asset_xdr(get),
                i64(fill.sold),
                asset_xdr(give),
                i64(fill.bought),
            ),
        )
    else:
        assert fill.offer is not None
        offer = fill.offer
        maker = offer.seller_id
        _take_from_offer(ctx, offer, fill.sold)
        ctx.credit(maker, give, fill.bought)
        ctx.credit(maker, get, -fill.sold)
        atom = x.ClaimAtom(
            x.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK,
            order_book=x.ClaimOfferAtom(
                account_id(maker),
                i64(offer.offer_id),
                asset_xdr(get),
                i64(fill.sold),
                asset_xdr(give),
                i64(fill.bought),
            ),
        )
    ctx.events.append(ctx.tokens.move(give, taker, maker, fill.bought))
    ctx.events.append(ctx.tokens.move(get, maker, taker, fill.sold))
    return atom


def _take_from_offer(ctx: OpContext, offer: OfferRecord, sold: int) -> None:
    """Shrink (or delete, when filled) an offer, and release the liabilities it no longer reserves."""
    ctx.changes.touch(offer)
    before = (offer.amount, offer.buying_liability)
    offer.amount -= sold
    after = (offer.amount, offer.buying_liability)
    _add_liabilities(ctx, offer, selling=after[0] - before[0], buying=after[1] - before[1])
    if offer.amount == 0:
        ctx.changes.remove(offer)
        ctx.changes.touch(ctx.state.account(offer.seller_id)).num_sub_entries -= 1


def _add_liabilities(ctx: OpContext, offer: OfferRecord, *, selling: int, buying: int) -> None:
    for asset, field_name, delta in (
        (offer.selling, "selling_liabilities", selling),
        (offer.buying, "buying_liabilities", buying),
    ):
        holder = _holding(ctx, offer.seller_id, asset)
        if holder is not None and delta:
            ctx.changes.touch(holder)
            setattr(holder, field_name, getattr(holder, field_name) + delta)


def _holding(ctx: OpContext, owner: str, asset: Asset) -> AccountRecord | TrustlineRecord | None:
    if asset.is_native():
        return ctx.state.account(owner)
    if owner == asset.issuer:
        return None  # issuers reserve nothing for their own asset
    return ctx.state.trustline(owner, asset)


@dataclass(frozen=True)
class ManageSellOffer:
    """A new sell offer: crosses the book as far as its price allows, then rests (or is deleted if filled)."""

    selling: Asset
    buying: Asset
    amount: int
    price_n: int  # `buying` per unit of `selling`
    price_d: int
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.ManageSellOffer(
            self.selling,
            self.buying,
            amount_string(self.amount),
            Price(self.price_n, self.price_d),
            source=self.source,
        ).to_xdr_object()

    def apply(self, ctx: OpContext) -> x.OperationResult:
        taker = ctx.source
        atoms = []
        remaining = self.amount
        for fill in book_fills(
            ctx.state, self.selling, self.buying, self.amount, (self.price_n, self.price_d)
        ):
            atoms.append(cross(ctx, taker, self.selling, self.buying, fill))
            ctx.credit(taker, self.selling, -fill.bought)
            ctx.credit(taker, self.buying, fill.sold)
            remaining -= fill.bought
        effect = x.ManageOfferEffect.MANAGE_OFFER_DELETED
        resting = None
        if remaining > 0:
            effect = x.ManageOfferEffect.MANAGE_OFFER_CREATED
            resting = self._rest(ctx, remaining)
        success = x.ManageOfferSuccessResult(atoms, x.ManageOfferSuccessResultOffer(effect, resting))
        code = x.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS
        return op_result(
            OP.MANAGE_SELL_OFFER, manage_sell_offer_result=x.ManageSellOfferResult(code, success)
        )

    def _rest(self, ctx: OpContext, amount: int) -> x.OfferEntry:
        offer = OfferRecord(
            ctx.source,
            ctx.state.next_offer_id(),
            self.selling,
            self.buying,
            amount,
            self.price_n,
            self.price_d,
            last_modified=ctx.ledger_seq,
        )
        ctx.changes.create(offer)
        ctx.changes.touch(ctx.state.account(ctx.source)).num_sub_entries += 1
        _add_liabilities(ctx, offer, selling=offer.amount, buying=offer.buying_liability)
        entry = offer.data().offer
        assert entry is not None
        return entry


@dataclass(frozen=True)
class PathPaymentStrictSend:
    """Sends exactly `send_amount` of `send_asset`; each hop takes the better of the order book and the pool."""

    destination: str
    send_asset: Asset
    send_amount: int
    dest_asset: Asset
    dest_min: int
    path: tuple[Asset, ...] = ()
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.PathPaymentStrictSend(
            self.destination,
            self.send_asset,
            amount_string(self.send_amount),
            self.dest_asset,
            amount_string(self.dest_min),
            list(self.path),
            source=self.source,
        ).to_xdr_object()

    def apply(self, ctx: OpContext) -> x.OperationResult:
        taker = ctx.source
        ctx.credit(taker, self.send_asset, -self.send_amount)
        hops = (self.send_asset, *self.path, self.dest_asset)
        amount = self.send_amount
        atoms: list[x.ClaimAtom] = []
        for give, get in itertools.pairwise(hops):
            fills = self._best_fills(ctx, give, get, amount)
            atoms.extend(cross(ctx, taker, give, get, fill) for fill in fills)
            amount = sum(fill.sold for fill in fills)
        if amount < self.dest_min:
            raise SampleError(f"path payment would deliver {amount}, under its minimum {self.dest_min}")
        ctx.credit(self.destination, self.dest_asset, amount)
        ctx.events.append(ctx.tokens.move(self.dest_asset, taker, self.destination, amount))
        last = x.SimplePaymentResult(account_id(self.destination), asset_xdr(self.dest_asset), i64(amount))
        success = x.PathPaymentStrictSendResultSuccess(atoms, last)
        code = x.PathPaymentStrictSendResultCode.PATH_PAYMENT_STRICT_SEND_SUCCESS
        return op_result(
            OP.PATH_PAYMENT_STRICT_SEND,
            path_payment_strict_send_result=x.PathPaymentStrictSendResult(code, success),
        )

    def _best_fills(self, ctx: OpContext, give: Asset, get: Asset, amount: int) -> list[Fill]:
        """The fills of one hop, pool or book, whichever delivers more for the whole amount."""
        candidates: list[list[Fill]] = []
        book = book_fills(ctx.state, give, get, amount)
        if sum(fill.bought for fill in book) == amount:
            candidates.append(book)
        pool = ctx.state.find(("pool", ctx.cast.pool_id.hex()))
        if isinstance(pool, PoolRecord) and {give, get} == {pool.asset_a, pool.asset_b}:
            candidates.append([pool_fill(ctx.state, pool.pool_id, give, amount)])
        if not candidates:
            raise SampleError(f"no liquidity for {amount} {give} -> {get}")
        return max(candidates, key=lambda fills: sum(fill.sold for fill in fills))
