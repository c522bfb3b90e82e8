"""Dataloader: a pair's stats over one window, for every trade of a page that asks for them.

One `resolvers.pair_stats.pair_stats` call per batch of pairs (a page of 100 trades on 5 pairs costs the same
reads as one trade): from the DEX volume candles where the tenant keeps them, else
folded from the stored trades (the same numbers either way, so reading candles needs no `read:dex_volume`).
One loader per window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from strawberry.dataloader import DataLoader

# A module import, not a name import: resolvers.pair_stats imports the DEX trade processor, whose GraphQL
# module imports this one (the name is read at call time).
from resolvers import pair_stats as source
from resolvers.context import RequestContext


def pair_stats_loader(
    since: datetime, until: datetime
) -> Callable[[RequestContext], DataLoader[str, dict[str, Any] | None]]:
    def build(ctx: RequestContext) -> DataLoader[str, dict[str, Any] | None]:
        async def load(pairs: list[str]) -> list[dict[str, Any] | None]:
            stats = await source.pair_stats(
                ctx.router, ctx.tenant_id, pairs, since=since, until=until, candles=ctx.candles
            )
            ctx.sources.add("hot")
            return [stats.get(pair) for pair in pairs]

        return DataLoader(load_fn=load)

    return build
