"""GraphQL for contract events: ``contractEvents`` (a connection with the listing's filters) and, where the
tenant's schema has the ``Contract`` entity (a processor lending it fields, such as its current storage), each
event's ``contract``."""

from __future__ import annotations

from processors.contract_events.query import EVENTS
from processors.contract_events.table import contract_events
from resolvers.connection import listing_field
from resolvers.entities import entity_link
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type

NAME = "contract_events"


def contribute(parts: SchemaParts) -> None:
    def event_type() -> object:
        links = []
        if parts.has_entity("Contract"):
            links.append(
                entity_link(
                    parts,
                    "Contract",
                    "contract",
                    "contract_id",
                    "The emitting contract, with its current storage (null for system events without one).",
                )
            )
        return object_type(
            "ContractEvent",
            [*column_fields(contract_events), *links],
            "A Soroban contract event with decoded topics and data (and their XDR).",
        )

    parts.define("ContractEvent", event_type, owner=NAME)
    listing_field(parts, NAME, "contractEvents", EVENTS, "ContractEvent")


graphql = GraphQLParts(contribute=contribute)
