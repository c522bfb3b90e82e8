"""GraphQL for token balances: ``tokenBalances`` (current balance per holder and asset, a connection) and
``Account.balances`` (exact from ledger state; custom tokens summed from transfers), which replaces the token
transfer processor's balances summed from transfers."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from processors.token_balances.query import BALANCES
from processors.token_balances.table import token_balances
from processors.token_transfers.graphql import BALANCE_TYPE, BALANCE_TYPE_DESCRIPTION
from resolvers.connection import listing_field
from resolvers.context import RequestContext
from resolvers.lookup_loader import MAX_PER_ACCOUNT, lookup_loader
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type, resolver_field
from storage.query import Filter

NAME = "token_balances"
# Bookkeeping columns that balances summed from transfers do not have: the type stays the same either way.
_NOT_IN_TYPE = ("ledger_sequence", "closed_at")


def token_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    """Current balances per holder, one lookup per batch, removed entries left out (as ``tokenBalances``)."""
    return lookup_loader(ctx, token_balances, "account_id", (Filter.eq("deleted", False),), MAX_PER_ACCOUNT)


def _balances(root: strawberry.Parent[dict[str, Any]], info: strawberry.Info) -> Any:
    ctx: RequestContext = info.context
    ctx.require(NAME)
    return ctx.loader(NAME, token_balances_loader).load(root["address"])


def contribute(parts: SchemaParts) -> None:
    parts.define(
        BALANCE_TYPE,
        lambda: object_type(
            BALANCE_TYPE, column_fields(token_balances, exclude=_NOT_IN_TYPE), BALANCE_TYPE_DESCRIPTION
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "tokenBalances", BALANCES, BALANCE_TYPE)
    parts.add_field(
        "Account",
        NAME,
        resolver_field(
            "balances",
            parts.ref(f"list[{BALANCE_TYPE}]"),
            _balances,
            "Current balances per asset (exact from ledger state, or summed transfers for custom tokens).",
        ),
    )


graphql = GraphQLParts(contribute=contribute)
