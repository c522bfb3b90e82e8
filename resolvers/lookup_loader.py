"""The shape every "rows of a current table per key" dataloader shares: one `QueryRouter.lookup` per batch of
keys (a page asking for 100 holders' balances is one statement), each key's first `per_key` rows in key order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from resolvers.context import RequestContext
from storage.query import Filter


def lookup_loader(
    ctx: RequestContext, table: str, column: str, filters: Sequence[Filter], per_key: int
) -> DataLoader[str, list[dict[str, Any]]]:
    async def load(keys: list[str]) -> list[list[dict[str, Any]]]:
        grouped = await ctx.router.lookup(ctx.tenant_id, table, column, keys, filters, per_key=per_key)
        ctx.sources.add("hot")
        return [grouped.get(key, []) for key in keys]

    return DataLoader(load_fn=load)
