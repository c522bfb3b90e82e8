"""Token transfers: every movement of value (CAP-67 unified events): sender, receiver, asset, amount."""

from __future__ import annotations

from processors.base import Processor, graphql_module
from processors.delivery import Subscription, WebhookEvent
from processors.token_transfers.config import TokenTransferConfig
from processors.token_transfers.extract import extract
from processors.token_transfers.query import TRANSFERS, listings
from processors.token_transfers.rest import routes
from processors.token_transfers.select import select
from processors.token_transfers.table import token_transfers

processor = Processor(
    name="token_transfers",
    type_name="TokenTransferProcessor",
    version=1,
    requires=(),
    config_model=TokenTransferConfig,
    description="Transfers, mints, burns, clawbacks and fees of every asset and token (CAP-67 events).",
    listings=listings,
    graphql=graphql_module("processors.token_transfers.graphql"),
    routes=routes,
    tables=(token_transfers,),
    archive=(token_transfers,),
    extract=extract,
    select=select,
    webhook_events=(
        WebhookEvent(
            "token_transfer", "A transfer, mint, burn, clawback or fee the tenant keeps.", TRANSFERS
        ),
        WebhookEvent(
            "large_payment",
            "A token transfer whose amount is at least the tenant's large_payment_threshold.",
            TRANSFERS,
        ),
    ),
    subscriptions=(
        Subscription("onTokenTransfer", TRANSFERS, "TokenTransfer", "Token transfers as they are ingested."),
    ),
)

__all__ = ["processor"]
