"""What callers may ask of contract data: the history of storage changes, and current storage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from processors.config_types import ContractAddress, Symbol
from processors.contract_data.config import Durability
from processors.contract_data.table import contract_data, contract_data_current
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from storage.query import Filter

Change = Literal["created", "updated", "removed", "restored", "evicted"]


class ContractDataFilter(FilterModel):
    """Filters on contract storage entries; lists mean "any of", the kinds are AND'ed."""

    contracts: list[ContractAddress] = Field(default=[], max_length=MAX_FILTER_VALUES)
    key_symbols: list[Symbol] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """The key when it is a symbol, or a vector key's first symbol (e.g. ``Balance``)."""
    key_hashes: list[str] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """Hex SHA-256 of the ledger key."""
    durability: list[Durability] = Field(default=[], max_length=MAX_FILTER_VALUES)
    changes: list[Change] = Field(default=[], max_length=MAX_FILTER_VALUES)
    include_deleted: bool = True
    """Current storage: also entries removed or evicted (false keeps live entries only)."""


def to_filters(f: ContractDataFilter) -> tuple[Filter, ...]:
    filters = (
        *any_of("contract_id", f.contracts),
        *any_of("key_symbol", f.key_symbols),
        *any_of("key_hash", [h.lower() for h in f.key_hashes]),
        *any_of("durability", f.durability),
        *any_of("change", f.changes),
    )
    if not f.include_deleted:
        filters += (Filter.eq("deleted", False),)
    return filters


STORAGE_CHANGES = Listing(
    name="contract_data",
    processor="contract_data",
    table=contract_data,
    filters=ContractDataFilter,
    to_filters=to_filters,
    description="Every change of contract storage (created, updated, removed, restored, evicted), in order.",
)
CURRENT_STORAGE = Listing(
    name="contract_data_current",
    processor="contract_data",
    table=contract_data_current,
    filters=ContractDataFilter,
    to_filters=to_filters,
    description="Current contract storage, one row per contract and key, with its TTL.",
)
listings = (STORAGE_CHANGES, CURRENT_STORAGE)
