"""GraphQL for token balances: ``tokenBalances`` (current balance per holder and asset, a connection) and
``Account.balances`` (exact from ledger state; custom tokens summed from transfers), which replaces the token
transfer processor's balances summed from transfers."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from processors.token_balances.query import BALANCES
from processors.token_balances.table import token_balances
from processors.token_transfers.graphql import BALANCE_TYPE, BALANCE_TYPE_DESCRIPTION, add_balances
from resolvers.connection import listing_field
from resolvers.context import RequestContext
from resolvers.lookup_loader import MAX_PER_ACCOUNT, lookup_loader
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type
from storage.query import Filter

NAME = "token_balances"
# Bookkeeping columns that balances summed from transfers do not have: the type stays the same either way.
_NOT_IN_TYPE = ("ledger_sequence", "closed_at")


def token_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    """Current balances per holder, one lookup per batch, removed entries left out (as ``tokenBalances``)."""
    return lookup_loader(ctx, token_balances, "account_id", (Filter.eq("deleted", False),), MAX_PER_ACCOUNT)


def contribute(parts: SchemaParts) -> None:
    parts.define(
        BALANCE_TYPE,
        lambda: object_type(
            BALANCE_TYPE, column_fields(token_balances, exclude=_NOT_IN_TYPE), BALANCE_TYPE_DESCRIPTION
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "tokenBalances", BALANCES, BALANCE_TYPE)
    add_balances(
        parts,
        NAME,
        token_balances_loader,
        "Current balances per asset (exact from ledger state, or summed transfers for custom tokens).",
        fallback=False,
    )


graphql = GraphQLParts(contribute=contribute)
