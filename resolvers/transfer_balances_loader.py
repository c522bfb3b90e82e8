"""Dataloader: token balances per holder summed from the tenant's stored transfers (`exact: false`).

For tenants that run token transfers without the token balance processor. One call of
`resolvers.transfer_balances.balances_from_transfers` per batch of holders, results in key order.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

# A module import, not a name import: resolvers.transfer_balances imports the token transfer processor,
# whose GraphQL module imports this one (the name is read at call time).
from resolvers import transfer_balances as source
from resolvers.context import RequestContext

KEY = "transfer_balances"


def transfer_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    async def load(holders: list[str]) -> list[list[dict[str, Any]]]:
        balances = await source.balances_from_transfers(ctx.router, ctx.tenant_id, holders)
        ctx.sources.add("hot")
        return [balances.get(holder, []) for holder in holders]

    return DataLoader(load_fn=load)
