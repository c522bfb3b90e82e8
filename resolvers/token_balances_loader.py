"""Dataloader: current token balances per holder, from the token balance processor's table.

One `QueryRouter.lookup` per batch of holders (a page of transfers asking for both parties' balances is one
statement), results in key order. Removed entries are left out, as in the ``tokenBalances`` default.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from resolvers.context import RequestContext
from storage.query import Filter

# A holder's balances in one list: an account has at most 1,000 subentries (trustlines and offers), so this
# never cuts a real account short, and bounds what one nested field can read for any holder.
MAX_BALANCES_PER_HOLDER = 1000

KEY = "token_balances"


def token_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    async def load(holders: list[str]) -> list[list[dict[str, Any]]]:
        grouped = await ctx.router.lookup(
            ctx.tenant_id,
            "token_balances",
            "account_id",
            holders,
            (Filter.eq("deleted", False),),
            per_key=MAX_BALANCES_PER_HOLDER,
        )
        ctx.sources.add("hot")
        return [grouped.get(holder, []) for holder in holders]

    return DataLoader(load_fn=load)
