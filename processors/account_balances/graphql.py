"""GraphQL for account balances: ``accountBalances`` (every change, in order), ``accountBalancesCurrent``
(one row per holder and asset) and ``Account.accountBalances`` (a holder's current balances, batched per page)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from processors.account_balances.query import CURRENT_BALANCES, HISTORY_BALANCES
from processors.account_balances.table import account_balances, account_balances_current
from resolvers.connection import listing_field
from resolvers.context import RequestContext
from resolvers.lookup_loader import MAX_PER_ACCOUNT, lookup_loader
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type, resolver_field
from storage.query import Filter

NAME = "account_balances"


def current_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    """Current classic balances per holder (accounts, trustlines, claimable balances, SAC balances): one lookup
    per batch, results in key order, removed entries left out."""
    live = (Filter.eq("deleted", False),)
    return lookup_loader(ctx, account_balances_current, "account_id", live, MAX_PER_ACCOUNT)


def _account_balances(root: strawberry.Parent[dict[str, Any]], info: strawberry.Info) -> Any:
    ctx: RequestContext = info.context
    ctx.require(NAME)
    return ctx.loader(NAME, current_balances_loader).load(root["address"])


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "AccountBalance",
        lambda: object_type(
            "AccountBalance",
            column_fields(account_balances),
            "A balance after a ledger that changed it (account, trustline, claimable balance, SAC balance).",
        ),
        owner=NAME,
    )
    parts.define(
        "CurrentAccountBalance",
        lambda: object_type(
            "CurrentAccountBalance",
            column_fields(account_balances_current),
            "The current balance of one holder and asset.",
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "accountBalances", HISTORY_BALANCES, "AccountBalance")
    listing_field(parts, NAME, "accountBalancesCurrent", CURRENT_BALANCES, "CurrentAccountBalance")
    parts.add_field(
        "Account",
        NAME,
        resolver_field(
            "accountBalances",
            parts.ref("list[CurrentAccountBalance]"),
            _account_balances,
            "Current classic balances: native, trustlines, claimable balances, SAC balances.",
        ),
    )


graphql = GraphQLParts(contribute=contribute)
