"""Links from a row to the shared entities (``Account``, ``Contract``), which processors lend fields to.

A row type adds a link field (``fromAccount``, ``contract``) naming the entity by the address in one of its
columns; the entity's fields are whatever the tenant's enabled processors lent it (`resolvers.parts`), so a link
is only offered where its entity exists in the schema (`SchemaParts.has_entity`).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types.field import StrawberryField

from resolvers.parts import SchemaParts
from resolvers.row_types import resolver_field

# The key field of each entity: what a link puts in the entity's dict.
ENTITY_KEYS = {"Account": "address", "Contract": "contract_id"}


def entity_link(parts: SchemaParts, entity: str, name: str, column: str, description: str) -> StrawberryField:
    """A row field `name` giving the `entity` whose address is in `column` (null when the column is)."""
    key = ENTITY_KEYS[entity]

    def link(root: strawberry.Parent[dict[str, Any]]) -> Any:
        address = root.get(column)
        return None if address is None else {key: address}

    return resolver_field(name, parts.ref(f"{entity} | None"), link, description)
