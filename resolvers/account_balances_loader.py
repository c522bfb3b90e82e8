"""Dataloader: current classic balances per holder (accounts, trustlines, claimable balances, SAC balances),
from ``account_balances_current``. One `QueryRouter.lookup` per batch, results in key order, removed entries
left out."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from resolvers.context import RequestContext
from storage.query import Filter

# A holder's balances in one list: an account has at most 1,000 subentries (trustlines and offers), so this
# never cuts a real account short, and bounds what one nested field can read for any holder.
MAX_BALANCES_PER_HOLDER = 1000

KEY = "account_balances"


def account_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    async def load(holders: list[str]) -> list[list[dict[str, Any]]]:
        grouped = await ctx.router.lookup(
            ctx.tenant_id,
            "account_balances_current",
            "account_id",
            holders,
            (Filter.eq("deleted", False),),
            per_key=MAX_BALANCES_PER_HOLDER,
        )
        ctx.sources.add("hot")
        return [grouped.get(holder, []) for holder in holders]

    return DataLoader(load_fn=load)
