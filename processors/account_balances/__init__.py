"""Account balances: balance history and current balances from account, trustline and contract entries."""

from __future__ import annotations

from processors.account_balances.config import AccountBalanceConfig
from processors.account_balances.extract import extract
from processors.account_balances.query import HISTORY_BALANCES, listings
from processors.account_balances.rest import routes
from processors.account_balances.select import select
from processors.account_balances.table import account_balances, account_balances_current
from processors.base import Processor, graphql_module
from processors.delivery import Subscription, WebhookEvent

processor = Processor(
    name="account_balances",
    type_name="AccountBalanceProcessor",
    version=1,
    requires=(),
    config_model=AccountBalanceConfig,
    description="Balance changes and current balances of accounts, trustlines and Stellar Asset Contracts.",
    webhook_events=(
        WebhookEvent("balance_change", "A balance the tenant follows changed in a ledger.", HISTORY_BALANCES),
    ),
    subscriptions=(
        Subscription(
            "onAccountBalance", HISTORY_BALANCES, "AccountBalance", "Balance changes as they are ingested."
        ),
    ),
    listings=listings,
    graphql=graphql_module("processors.account_balances.graphql"),
    routes=routes,
    tables=(account_balances, account_balances_current),
    extract=extract,
    select=select,
    archive=(account_balances,),  # the current table stays hot
)

__all__ = ["processor"]
