"""The shape every "rows of a current table per key" dataloader shares: one `QueryRouter.lookup` per batch of
keys (a page asking for 100 holders' balances is one statement), each key's first `per_key` rows in key order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from strawberry.dataloader import DataLoader

from resolvers.context import RequestContext
from storage.query import Filter

# A holder's rows of one current table in one list (its balances): an account has at most 1,000 subentries
# (trustlines and offers), so this never cuts a real account short, and bounds what one nested field can read for
# any holder.
MAX_PER_ACCOUNT = 1000


def lookup_loader(
    ctx: RequestContext, table: Table, column: str, filters: Sequence[Filter], per_key: int
) -> DataLoader[str, list[dict[str, Any]]]:
    async def load(keys: list[str]) -> list[list[dict[str, Any]]]:
        grouped = await ctx.router.lookup(ctx.tenant_id, table, column, keys, filters, per_key=per_key)
        ctx.sources.add("hot")
        ctx.rows += sum(len(found) for found in grouped.values())
        return [grouped.get(key, []) for key in keys]

    return DataLoader(load_fn=load)
