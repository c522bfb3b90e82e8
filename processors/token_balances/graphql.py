"""GraphQL for token balances: ``tokenBalances`` (current balance per holder and asset, a connection) and
``Account.balances`` (exact from ledger state; custom tokens summed from transfers)."""

from __future__ import annotations

from processors.token_balances.query import listings
from resolvers.balances import add_token_balances, token_balance_type
from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts

NAME = "token_balances"


def contribute(parts: SchemaParts) -> None:
    token_balance_type(parts)
    listing_field(parts, NAME, "tokenBalances", listings[0], "TokenBalance")
    add_token_balances(parts, NAME, from_transfers=False)


graphql = GraphQLParts(contribute=contribute)
