"""REST routes of contract events: all events, and one contract's events."""

from __future__ import annotations

from processors.contract_events.query import EVENTS
from processors.rest_spec import RestParam, RestRoute

_FILTERS = (
    RestParam("event_type", "event_types", "Topic 0 as a symbol or string (e.g. `transfer`)."),
    RestParam("type", "types", "contract, system or diagnostic."),
    *(
        RestParam(f"topic{i}", f"topic{i}", f"Topic {i} as text (symbols, strings, addresses as they are).")
        for i in range(4)
    ),
    RestParam("successful", "successful", "Only events of successful (true) or failed (false) transactions."),
)

routes = (
    RestRoute(
        path="/contract-events",
        processor="contract_events",
        listing=EVENTS,
        summary="Contract events",
        description="Soroban contract events with decoded topics and data, in ledger order.",
        params=(RestParam("contract_id", "contracts", "Events emitted by this contract (C...)."), *_FILTERS),
    ),
    RestRoute(
        path="/contracts/{contract_id}/events",
        processor="contract_events",
        listing=EVENTS,
        summary="Events of one contract",
        description="The events one contract emitted, in ledger order.",
        path_params=(RestParam("contract_id", "contracts", "The contract (C...)."),),
        params=_FILTERS,
    ),
)
