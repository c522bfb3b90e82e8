"""Dataloader: a contract's current storage (``contract_data_current``) per contract id.

One `QueryRouter.lookup` per batch of contracts, rows in key order (by key hash). One loader per value of
``include_deleted`` (removed and evicted entries are kept in current storage, marked ``deleted``) and
``first``: each contract's first ``first`` entries only are read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strawberry.dataloader import DataLoader

from resolvers.context import RequestContext
from storage.query import Filter


def contract_storage_loader(
    include_deleted: bool, first: int
) -> Callable[[RequestContext], DataLoader[str, list[dict[str, Any]]]]:
    def build(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
        filters = () if include_deleted else (Filter.eq("deleted", False),)

        async def load(contracts: list[str]) -> list[list[dict[str, Any]]]:
            grouped = await ctx.router.lookup(
                ctx.tenant_id, "contract_data_current", "contract_id", contracts, filters, per_key=first
            )
            ctx.sources.add("hot")
            return [grouped.get(contract, []) for contract in contracts]

        return DataLoader(load_fn=load)

    return build
