"""What callers may ask of contract events (GraphQL filter input and REST parameters alike)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from processors.config_types import ContractAddress
from processors.contract_events.table import contract_events
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from storage.query import Filter

EventKind = Literal["contract", "system", "diagnostic"]


class ContractEventFilter(FilterModel):
    """Filters on contract events; lists mean "any of", the kinds are AND'ed. A topic value is compared with
    the topic's text form (symbols, strings and addresses as they are, other values as canonical JSON)."""

    contracts: list[ContractAddress] = Field(default=[], max_length=MAX_FILTER_VALUES)
    event_types: list[str] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """Topic 0 as a symbol or string (e.g. ``transfer``)."""
    types: list[EventKind] = Field(default=[], max_length=MAX_FILTER_VALUES)
    topic0: str | None = None
    topic1: str | None = None
    topic2: str | None = None
    topic3: str | None = None
    successful: bool | None = None
    """Only events of successful (true) or failed (false) transactions."""


def to_filters(f: ContractEventFilter) -> tuple[Filter, ...]:
    filters = (
        *any_of("contract_id", f.contracts),
        *any_of("event_type", f.event_types),
        *any_of("type", f.types),
    )
    for column in ("topic0", "topic1", "topic2", "topic3"):
        value = getattr(f, column)
        if value is not None:
            filters += (Filter.eq(column, value),)
    if f.successful is not None:
        filters += (Filter.eq("in_successful_tx", f.successful),)
    return filters


EVENTS = Listing(
    name="contract_events",
    processor="contract_events",
    table=contract_events,
    filters=ContractEventFilter,
    to_filters=to_filters,
    description="Soroban contract events with decoded topics and data, in ledger order.",
)
listings = (EVENTS,)
