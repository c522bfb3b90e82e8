"""What callers may ask of token balances (current balance per account and asset)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from processors.config_types import Address, AssetId, RawAmount
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from processors.token_balances.table import token_balances
from storage.query import Filter

TokenBalanceSource = Literal["account", "trustline", "contract", "transfers"]


class TokenBalanceFilter(FilterModel):
    """Filters on token balances; lists mean "any of", the kinds are AND'ed."""

    accounts: list[Address] = Field(default=[], max_length=MAX_FILTER_VALUES)
    assets: list[AssetId] = Field(default=[], max_length=MAX_FILTER_VALUES)
    sources: list[TokenBalanceSource] = Field(default=[], max_length=MAX_FILTER_VALUES)
    min_balance: RawAmount | None = None
    exact: bool | None = None
    """Only exact balances (true) or only sums of transfers since indexing began (false)."""
    include_deleted: bool = False


def to_filters(f: TokenBalanceFilter) -> tuple[Filter, ...]:
    filters = (*any_of("account_id", f.accounts), *any_of("asset", f.assets), *any_of("source", f.sources))
    if f.min_balance is not None:
        filters += (Filter(("balance_raw",), "gte", int(f.min_balance)),)
    if f.exact is not None:
        filters += (Filter.eq("exact", f.exact),)
    if not f.include_deleted:
        filters += (Filter.eq("deleted", False),)
    return filters


BALANCES = Listing(
    name="token_balances",
    processor="token_balances",
    table=token_balances,
    filters=TokenBalanceFilter,
    to_filters=to_filters,
    description="Current balance per account and asset: exact from ledger state, or summed from transfers.",
)
listings = (BALANCES,)
