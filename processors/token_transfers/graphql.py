"""GraphQL for token transfers: ``tokenTransfers`` (a connection), each transfer's ``fromAccount`` /
``toAccount``, and ``Account.balances`` summed from the stored transfers (a fallback: a processor keeping exact
balances replaces it when the tenant enables one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

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


def add_balances(
    parts: SchemaParts,
    owner: str,
    loader: Callable[[RequestContext], DataLoader[str, list[dict[str, Any]]]],
    description: str,
    *,
    fallback: bool,
) -> None:
    """``Account.balances`` (``[TokenBalance!]!``) read by `loader` per holder, lent by processor `owner` (whose
    scope it needs): the sums of transfers here, or a processor keeping balances from ledger state."""

    def balances(root: strawberry.Parent[dict[str, Any]], info: strawberry.Info) -> Any:
        ctx: RequestContext = info.context
        ctx.require(owner)
        return ctx.loader(owner, loader).load(root["address"])

    field = resolver_field("balances", parts.ref(f"list[{BALANCE_TYPE}]"), balances, description)
    parts.add_field("Account", owner, field, fallback=fallback)


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
    add_balances(
        parts,
        NAME,
        transfer_balances_loader,
        "Current balances per asset (summed from indexed transfers, exact: false)",
        fallback=True,
    )


graphql = GraphQLParts(contribute=contribute)
