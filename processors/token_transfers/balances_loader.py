"""Dataloader: token balances per holder summed from the tenant's stored transfers (``exact: false``).

One call of `balances.balances_from_transfers` per batch of holders, results in key order.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from processors.token_transfers.balances import balances_from_transfers
from resolvers.context import RequestContext


def transfer_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    async def load(holders: list[str]) -> list[list[dict[str, Any]]]:
        router = ctx.router.recording()  # the tiers summed go to `data_sources`
        balances = await balances_from_transfers(router, ctx.tenant_id, holders)
        ctx.sources.update(router.answered)
        ctx.rows += sum(len(rows) for rows in balances.values())
        return [balances.get(holder, []) for holder in holders]

    return DataLoader(load_fn=load)
