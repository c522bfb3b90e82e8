"""What callers may ask of account balances: the history of changes, and the current balances."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from processors.account_balances.table import account_balances, account_balances_current
from processors.config_types import Address, AssetId, RawAmount
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from storage.query import Filter

BalanceSource = Literal["account", "trustline", "claimable_balance", "contract"]


class AccountBalanceFilter(FilterModel):
    """Filters on balances; lists mean "any of", the kinds are AND'ed."""

    accounts: list[Address] = Field(default=[], max_length=MAX_FILTER_VALUES)
    assets: list[AssetId] = Field(default=[], max_length=MAX_FILTER_VALUES)
    sources: list[BalanceSource] = Field(default=[], max_length=MAX_FILTER_VALUES)
    min_balance: RawAmount | None = None
    """Smallest balance, in stroops."""
    include_deleted: bool = False
    """Also rows of removed entries (a closed trustline or account)."""


def to_filters(f: AccountBalanceFilter) -> tuple[Filter, ...]:
    filters = (*any_of("account_id", f.accounts), *any_of("asset", f.assets), *any_of("source", f.sources))
    if f.min_balance is not None:
        filters += (Filter(("balance_raw",), "gte", int(f.min_balance)),)
    if not f.include_deleted:
        filters += (Filter.eq("deleted", False),)
    return filters


HISTORY_BALANCES = Listing(
    name="account_balances",
    processor="account_balances",
    table=account_balances,
    filters=AccountBalanceFilter,
    to_filters=to_filters,
    description="Every change of a balance (account, trustline, claimable balance, SAC balance), in order.",
)
CURRENT_BALANCES = Listing(
    name="account_balances_current",
    processor="account_balances",
    table=account_balances_current,
    filters=AccountBalanceFilter,
    to_filters=to_filters,
    description="Current balances, one row per account and asset.",
)
listings = (HISTORY_BALANCES, CURRENT_BALANCES)
