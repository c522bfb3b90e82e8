"""Contract events: Soroban events with decoded topics and data."""

from __future__ import annotations

from processors.base import Processor, graphql_module
from processors.contract_events.config import ContractEventConfig
from processors.contract_events.extract import extract
from processors.contract_events.query import EVENTS, listings
from processors.contract_events.rest import routes
from processors.contract_events.select import select
from processors.contract_events.table import contract_events
from processors.delivery import Subscription, WebhookEvent

processor = Processor(
    name="contract_events",
    type_name="ContractEventProcessor",
    version=1,
    requires=(),
    config_model=ContractEventConfig,
    description="Soroban contract events with decoded topics and data, filterable by contract and topic.",
    listings=listings,
    graphql=graphql_module("processors.contract_events.graphql"),
    routes=routes,
    tables=(contract_events,),
    extract=extract,
    select=select,
    archive=(contract_events,),
    webhook_events=(WebhookEvent("contract_event", "A contract event the tenant keeps.", EVENTS),),
    subscriptions=(
        Subscription("onContractEvent", EVENTS, "ContractEvent", "Contract events as they are ingested."),
    ),
)

__all__ = ["processor"]
