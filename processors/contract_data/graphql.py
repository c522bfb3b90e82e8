"""GraphQL for contract data: ``contractData`` (every storage change, in order), ``contractDataCurrent``
(current storage, a connection) and ``Contract.storage`` (a contract's current entries, batched per page)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from processors.contract_data.query import listings
from processors.contract_data.table import contract_data, contract_data_current
from resolvers.connection import MAX_FIRST, listing_field, page_size
from resolvers.context import RequestContext
from resolvers.contract_storage_loader import contract_storage_loader
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type

NAME = "contract_data"


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
    history, current = listings
    parts.define(
        "ContractData",
        lambda: object_type(
            "ContractData",
            column_fields(contract_data),
            "A change of contract storage: created, updated, removed, restored or evicted.",
        ),
    )
    parts.define(
        "ContractStorageEntry",
        lambda: object_type(
            "ContractStorageEntry",
            column_fields(contract_data_current),
            "A contract storage entry as it is now (removed and evicted entries marked deleted).",
        ),
    )
    listing_field(parts, NAME, "contractData", history, "ContractData")
    listing_field(parts, NAME, "contractDataCurrent", current, "ContractStorageEntry")
    parts.add_entity_field(
        NAME,
        "Contract",
        StrawberryField(
            python_name="storage",
            graphql_name="storage",
            type_annotation=parts.ref("list[ContractStorageEntry]"),
            base_resolver=StrawberryResolver(_storage),
            description=(
                f"Current storage entries in key-hash order, the first `first` (at most {MAX_FIRST}); page "
                "through more with contractDataCurrent(filter: {contracts: [...]})."
            ),
        ),
    )


graphql = GraphQLParts(contribute=contribute)
