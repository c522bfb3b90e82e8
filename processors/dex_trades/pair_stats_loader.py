"""Dataloader: a pair's stats over one window, for every trade of a page that asks for them.

One call of the schema's stats function (`pair_stats.StatsFunction`: from trades, or from candles where the
tenant keeps them) per batch of pairs: a page of 100 trades on 5 pairs costs the same reads as one trade. One
loader per window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from strawberry.dataloader import DataLoader

from processors.dex_trades.pair_stats import StatsFunction
from resolvers.context import RequestContext
from storage.query import Row


def pair_stats_loader(
    stats: StatsFunction, since: datetime, until: datetime
) -> Callable[[RequestContext], DataLoader[str, Row | None]]:
    def build(ctx: RequestContext) -> DataLoader[str, Row | None]:
        async def load(pairs: list[str]) -> list[Row | None]:
            router = ctx.router.recording()  # the tiers read go to `data_sources`
            found = await stats(router, ctx.tenant_id, ctx.configs, pairs, since, until)
            ctx.sources.update(router.answered)
            ctx.rows += len(found)
            return [found.get(pair) for pair in pairs]

        return DataLoader(load_fn=load)

    return build
