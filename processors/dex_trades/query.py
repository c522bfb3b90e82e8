"""What callers may ask of DEX trades (GraphQL filter input and REST parameters alike)."""

from __future__ import annotations

from pydantic import Field

from processors.config_types import Address, AssetPair
from processors.dex_trades.config import TradeType
from processors.dex_trades.pairs import canonical_pair, pair_assets
from processors.dex_trades.table import dex_trades
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from storage.query import Filter


class DEXTradeFilter(FilterModel):
    """Filters on trades; lists mean "any of", the kinds are AND'ed. A pair matches in either orientation."""

    pairs: list[AssetPair] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """``BASE/COUNTER``, e.g. ``native/USDC:GA5Z...``."""
    accounts: list[Address] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """Trades where any of these is the seller or the buyer."""
    trade_types: list[TradeType] = Field(default=[], max_length=MAX_FILTER_VALUES)
    pool_ids: list[str] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """Liquidity pool ids (``L...``)."""


def canonical(pair: str) -> str:
    return canonical_pair(*pair_assets(pair))


def to_filters(f: DEXTradeFilter) -> tuple[Filter, ...]:
    return (
        *any_of("pair", sorted({canonical(p) for p in f.pairs})),
        *any_of(("seller", "buyer"), f.accounts),
        *any_of("trade_type", f.trade_types),
        *any_of("pool_id", f.pool_ids),
    )


TRADES = Listing(
    name="dex_trades",
    processor="dex_trades",
    table=dex_trades,
    filters=DEXTradeFilter,
    to_filters=to_filters,
    description="Order book and liquidity pool trades with exact prices, in ledger order.",
)
listings = (TRADES,)
