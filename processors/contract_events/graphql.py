"""GraphQL for contract events: ``contractEvents`` (a connection with the listing's filters) and, when the
tenant runs the contract data processor, each event's ``contract { storage }`` (batched per page)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from processors.contract_events.query import listings
from processors.contract_events.table import contract_events
from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type

NAME = "contract_events"


def _contract(root: strawberry.Parent[dict[str, Any]]) -> Any:
    contract_id = root.get("contract_id")
    return None if contract_id is None else {"contract_id": contract_id}


def contribute(parts: SchemaParts) -> None:
    links = []
    if "contract_data" in parts.enabled:
        links.append(
            StrawberryField(
                python_name="contract",
                graphql_name="contract",
                type_annotation=parts.ref("Contract | None"),
                base_resolver=StrawberryResolver(_contract),
                description="The emitting contract, with its current storage (null for system events without one).",
            )
        )
    parts.define(
        "ContractEvent",
        lambda: object_type(
            "ContractEvent",
            [*column_fields(contract_events), *links],
            "A Soroban contract event with decoded topics and data (and their XDR).",
        ),
    )
    listing_field(parts, NAME, "contractEvents", listings[0], "ContractEvent")


graphql = GraphQLParts(contribute=contribute)
