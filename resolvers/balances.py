"""``Account`` balance fields, shared by the processors that can answer them.

- ``Account.balances: [TokenBalance!]!``: from the token balance processor's table when the tenant runs it
  (exact for ledger-state sources), else summed from the tenant's stored transfers (``exact: false``,
  ``source: "transfers"``) when it runs token transfers.
- ``Account.accountBalances: [CurrentAccountBalance!]!``: classic balances from the account balance
  processor's current table.

Both read through per-request dataloaders, so a page of transfers asking for ``fromAccount { balances }``
costs one lookup for the whole page. Tables are found by name on the shared metadata at build time (importing
a processor's table module here would import that processor's package, and with it this module, in a cycle).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from resolvers.account_balances_loader import KEY as ACCOUNT_BALANCES
from resolvers.account_balances_loader import account_balances_loader
from resolvers.context import RequestContext
from resolvers.parts import SchemaParts
from resolvers.row_types import column_fields, object_type
from resolvers.token_balances_loader import KEY as TOKEN_BALANCES
from resolvers.token_balances_loader import token_balances_loader
from resolvers.transfer_balances_loader import KEY as TRANSFER_BALANCES
from resolvers.transfer_balances_loader import transfer_balances_loader
from storage.tables import metadata

# Bookkeeping columns of the current table that balances summed from transfers do not have.
_TOKEN_BALANCE_EXCLUDED = ("ledger_sequence", "closed_at")


def token_balance_type(parts: SchemaParts) -> Any:
    return parts.define(
        "TokenBalance",
        lambda: object_type(
            "TokenBalance",
            column_fields(metadata.tables["token_balances"], exclude=_TOKEN_BALANCE_EXCLUDED),
            "A holder's current balance of one asset or token.",
        ),
    )


def add_token_balances(parts: SchemaParts, owner: str, *, from_transfers: bool) -> None:
    """``Account.balances``, read from the token balance table or summed from transfers."""
    token_balance_type(parts)
    processor = "token_transfers" if from_transfers else "token_balances"
    key, factory = (
        (TRANSFER_BALANCES, transfer_balances_loader)
        if from_transfers
        else (TOKEN_BALANCES, token_balances_loader)
    )

    def balances(root: strawberry.Parent[dict[str, Any]], info: strawberry.Info) -> Any:
        ctx: RequestContext = info.context
        ctx.require(processor)
        return ctx.loader(key, factory).load(root["address"])

    parts.add_entity_field(
        owner,
        "Account",
        StrawberryField(
            python_name="balances",
            graphql_name="balances",
            type_annotation=parts.ref("list[TokenBalance]"),
            base_resolver=StrawberryResolver(balances),
            description=(
                "Current balances per asset (summed from indexed transfers, exact: false)"
                if from_transfers
                else "Current balances per asset (exact from ledger state, or summed transfers for custom tokens)."
            ),
        ),
    )


def add_account_balances(parts: SchemaParts, owner: str, node: str) -> None:
    """``Account.accountBalances``: the holder's current classic balances (type `node`)."""

    def account_balances(root: strawberry.Parent[dict[str, Any]], info: strawberry.Info) -> Any:
        ctx: RequestContext = info.context
        ctx.require("account_balances")
        return ctx.loader(ACCOUNT_BALANCES, account_balances_loader).load(root["address"])

    parts.add_entity_field(
        owner,
        "Account",
        StrawberryField(
            python_name="account_balances",
            graphql_name="accountBalances",
            type_annotation=parts.ref(f"list[{node}]"),
            base_resolver=StrawberryResolver(account_balances),
            description="Current classic balances: native, trustlines, claimable balances, SAC balances.",
        ),
    )


def account_link(parts: SchemaParts, name: str, column: str, description: str) -> StrawberryField:
    """A row field ``name`` giving the ``Account`` whose address is in `column` (null when it is)."""

    def link(root: strawberry.Parent[dict[str, Any]]) -> Any:
        address = root.get(column)
        return None if address is None else {"address": address}

    return StrawberryField(
        python_name=name,
        graphql_name=name,
        type_annotation=parts.ref("Account | None"),
        base_resolver=StrawberryResolver(link),
        description=description,
    )
