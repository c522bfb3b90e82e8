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
from resolvers.lookup_loader import lookup_loader
from storage.query import Filter


def contract_storage_loader(
    include_deleted: bool, first: int
) -> Callable[[RequestContext], DataLoader[str, list[dict[str, Any]]]]:
    filters = () if include_deleted else (Filter.eq("deleted", False),)

    def build(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
        return lookup_loader(ctx, "contract_data_current", "contract_id", filters, first)

    return build
