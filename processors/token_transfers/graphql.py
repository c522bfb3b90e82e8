"""GraphQL for token transfers: ``tokenTransfers`` (a connection), each transfer's ``fromAccount`` /
``toAccount``, and ``Account.balances`` summed from the stored transfers (a fallback: a processor keeping exact
balances replaces it when the tenant enables one)."""

from __future__ import annotations

from typing import Any

import strawberry

from processors.token_transfers.balances import BALANCE_FIELDS
from processors.token_transfers.balances_loader import transfer_balances_loader
from processors.token_transfers.query import TRANSFERS
from processors.token_transfers.table import token_transfers
from resolvers.connection import listing_field
from resolvers.context import RequestContext
from resolvers.entities import entity_link
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type, resolver_field, row_fields

NAME = "token_transfers"
BALANCE_TYPE = "TokenBalance"
BALANCE_TYPE_DESCRIPTION = "A holder's current balance of one asset or token."


def _balances(root: strawberry.Parent[dict[str, Any]], info: strawberry.Info) -> Any:
    ctx: RequestContext = info.context
    ctx.require(NAME)
    return ctx.loader(NAME, transfer_balances_loader).load(root["address"])


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "TokenTransfer",
        lambda: object_type(
            "TokenTransfer",
            [
                *column_fields(token_transfers),
                entity_link(
                    parts, "Account", "fromAccount", "from", "The sender as an Account (null for a mint)."
                ),
                entity_link(
                    parts,
                    "Account",
                    "toAccount",
                    "to",
                    "The receiver as an Account (null for burns and fees).",
                ),
            ],
            "A transfer, mint, burn, clawback or fee (CAP-67 event); amounts in raw units and as decimals.",
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "tokenTransfers", TRANSFERS, "TokenTransfer")
    parts.define(
        BALANCE_TYPE,
        lambda: object_type(BALANCE_TYPE, row_fields(BALANCE_FIELDS), BALANCE_TYPE_DESCRIPTION),
        owner=NAME,
        fallback=True,
    )
    parts.add_field(
        "Account",
        NAME,
        resolver_field(
            "balances",
            parts.ref(f"list[{BALANCE_TYPE}]"),
            _balances,
            "Current balances per asset (summed from indexed transfers, exact: false)",
        ),
        fallback=True,
    )


graphql = GraphQLParts(contribute=contribute)
