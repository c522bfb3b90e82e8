"""Token balances: current balance per (account, asset), derived from token transfers."""

from __future__ import annotations

from processors.base import Processor, graphql_module
from processors.token_balances.after_write import after_write
from processors.token_balances.archived import on_archive
from processors.token_balances.config import TokenBalanceConfig
from processors.token_balances.extract import extract
from processors.token_balances.query import listings
from processors.token_balances.rest import routes
from processors.token_balances.select import select
from processors.token_balances.table import token_balances, token_balances_archived, token_balances_tokens

processor = Processor(
    name="token_balances",
    type_name="TokenBalanceProcessor",
    version=1,
    requires=("TokenTransferProcessor",),
    # Its extraction shares the account balance processor's walk of the ledger's balance changes.
    uses=("AccountBalanceProcessor",),
    config_model=TokenBalanceConfig,
    description="Current balance per account and asset, including SEP-41 tokens, derived from transfers.",
    listings=listings,
    graphql=graphql_module("processors.token_balances.graphql"),
    routes=routes,
    tables=(token_balances, token_balances_tokens, token_balances_archived),
    extract=extract,
    select=select,
    after_write=after_write,
    on_archive=on_archive,
)

__all__ = ["processor"]
