"""What callers may ask of token transfers (GraphQL filter input and REST parameters alike)."""

from __future__ import annotations

from pydantic import Field

from processors.config_types import AccountAddress, Address, AssetId, ContractAddress, RawAmount
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from processors.token_transfers.config import TokenEventType
from processors.token_transfers.table import token_transfers
from storage.query import Filter


class TokenTransferFilter(FilterModel):
    """Filters on token transfers; lists mean "any of", the kinds are AND'ed."""

    event_types: list[TokenEventType] = Field(default=[], max_length=MAX_FILTER_VALUES)
    assets: list[AssetId] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """``native``, ``CODE:ISSUER`` or a contract id."""
    asset_code: str | None = None
    asset_issuer: AccountAddress | None = None
    accounts: list[Address] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """Movements where any of these is the sender or the receiver."""
    senders: list[Address] = Field(default=[], max_length=MAX_FILTER_VALUES)
    receivers: list[Address] = Field(default=[], max_length=MAX_FILTER_VALUES)
    contracts: list[ContractAddress] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """Movements of tokens emitted by these contracts."""
    min_amount: RawAmount | None = None
    """Smallest amount, in the token's raw units."""
    successful: bool | None = None
    """Only rows of successful (true) or failed (false) transactions."""


def to_filters(f: TokenTransferFilter) -> tuple[Filter, ...]:
    filters = (
        *any_of("event_type", f.event_types),
        *any_of("asset", f.assets),
        *any_of(("from", "to"), f.accounts),
        *any_of("from", f.senders),
        *any_of("to", f.receivers),
        *any_of("contract_id", f.contracts),
    )
    if f.asset_code is not None:
        filters += (Filter.eq("asset_code", f.asset_code),)
    if f.asset_issuer is not None:
        filters += (Filter.eq("asset_issuer", f.asset_issuer),)
    if f.min_amount is not None:
        filters += (Filter(("amount_raw",), "gte", int(f.min_amount)),)
    if f.successful is not None:
        filters += (Filter.eq("in_successful_tx", f.successful),)
    return filters


TRANSFERS = Listing(
    name="token_transfers",
    processor="token_transfers",
    table=token_transfers,
    filters=TokenTransferFilter,
    to_filters=to_filters,
    description="Transfers, mints, burns, clawbacks and fees, in ledger order.",
)
listings = (TRANSFERS,)
