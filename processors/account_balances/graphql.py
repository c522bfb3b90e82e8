"""GraphQL for account balances: ``accountBalances`` (every change, in order), ``accountBalancesCurrent``
(one row per holder and asset) and ``Account.accountBalances`` (a holder's current balances)."""

from __future__ import annotations

from processors.account_balances.query import listings
from processors.account_balances.table import account_balances, account_balances_current
from resolvers.balances import add_account_balances
from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type

NAME = "account_balances"


def contribute(parts: SchemaParts) -> None:
    history, current = listings
    parts.define(
        "AccountBalance",
        lambda: object_type(
            "AccountBalance",
            column_fields(account_balances),
            "A balance after a ledger that changed it (account, trustline, claimable balance, SAC balance).",
        ),
    )
    parts.define(
        "CurrentAccountBalance",
        lambda: object_type(
            "CurrentAccountBalance",
            column_fields(account_balances_current),
            "The current balance of one holder and asset.",
        ),
    )
    listing_field(parts, NAME, "accountBalances", history, "AccountBalance")
    listing_field(parts, NAME, "accountBalancesCurrent", current, "CurrentAccountBalance")
    add_account_balances(parts, NAME, "CurrentAccountBalance")


graphql = GraphQLParts(contribute=contribute)
