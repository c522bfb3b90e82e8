"""GraphQL for token transfers: ``tokenTransfers`` (a Relay connection with the listing's filters), each
transfer's ``fromAccount``/``toAccount``, and ``Account.balances`` summed from the stored transfers when the
tenant does not run the token balance processor (which then answers it exactly)."""

from __future__ import annotations

from processors.token_transfers.query import listings
from processors.token_transfers.table import token_transfers
from resolvers.balances import account_link, add_token_balances
from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type

NAME = "token_transfers"


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "TokenTransfer",
        lambda: object_type(
            "TokenTransfer",
            [
                *column_fields(token_transfers),
                account_link(parts, "fromAccount", "from", "The sender as an Account (null for a mint)."),
                account_link(
                    parts, "toAccount", "to", "The receiver as an Account (null for burns and fees)."
                ),
            ],
            "A transfer, mint, burn, clawback or fee (CAP-67 event); amounts in raw units and as decimals.",
        ),
    )
    listing_field(parts, NAME, "tokenTransfers", listings[0], "TokenTransfer")
    if "token_balances" not in parts.enabled:
        add_token_balances(parts, NAME, from_transfers=True)


graphql = GraphQLParts(contribute=contribute)
