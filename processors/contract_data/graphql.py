"""GraphQL for contract data: ``contractData`` (every storage change, in order), ``contractDataCurrent``
(current storage, a connection) and ``Contract.storage`` (a contract's current entries, batched per page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from processors.contract_data.query import CURRENT_STORAGE, STORAGE_CHANGES
from processors.contract_data.table import contract_data, contract_data_current
from resolvers.connection import MAX_FIRST, listing_field, page_size
from resolvers.context import RequestContext
from resolvers.lookup_loader import lookup_loader
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type, resolver_field
from storage.query import Filter

NAME = "contract_data"


def contract_storage_loader(
    include_deleted: bool, first: int
) -> Callable[[RequestContext], DataLoader[str, list[dict[str, Any]]]]:
    """A contract's current storage per contract id: one lookup per batch of contracts, rows in key order (by
    key hash), each contract's first `first` entries only; one loader per value of `include_deleted` (removed
    and evicted entries are kept in current storage, marked ``deleted``) and `first`."""
    filters = () if include_deleted else (Filter.eq("deleted", False),)

    def build(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
        return lookup_loader(ctx, contract_data_current, "contract_id", filters, first)

    return build


async def _storage(
    root: strawberry.Parent[dict[str, Any]],
    info: strawberry.Info,
    first: int = MAX_FIRST,
    include_deleted: bool = False,
) -> Any:
    ctx: RequestContext = info.context
    ctx.require(NAME)
    size = page_size(first, None)
    loader = ctx.loader(
        ("contract_storage", include_deleted, size), contract_storage_loader(include_deleted, size)
    )
    return await loader.load(root["contract_id"])


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "ContractData",
        lambda: object_type(
            "ContractData",
            column_fields(contract_data),
            "A change of contract storage: created, updated, removed, restored or evicted.",
        ),
        owner=NAME,
    )
    parts.define(
        "ContractStorageEntry",
        lambda: object_type(
            "ContractStorageEntry",
            column_fields(contract_data_current),
            "A contract storage entry as it is now (removed and evicted entries marked deleted).",
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "contractData", STORAGE_CHANGES, "ContractData")
    listing_field(parts, NAME, "contractDataCurrent", CURRENT_STORAGE, "ContractStorageEntry")
    parts.add_field(
        "Contract",
        NAME,
        resolver_field(
            "storage",
            parts.ref("list[ContractStorageEntry]"),
            _storage,
            f"Current storage entries in key-hash order, the first `first` (at most {MAX_FIRST}); page through "
            "more with contractDataCurrent(filter: {contracts: [...]}).",
        ),
    )


graphql = GraphQLParts(contribute=contribute)
