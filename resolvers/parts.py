"""How processors add themselves to a tenant's GraphQL schema.

Each processor's ``graphql.py`` exports a `GraphQLParts`; its ``contribute(parts)`` is called once for every
schema built (one per distinct set of enabled processors, `schema.build`) with a fresh `SchemaParts`. It adds
its row types, its query fields and the fields it lends to the shared entity types (``Account``,
``Contract``), and may look at ``parts.enabled`` to link to other processors only when they are enabled: a
disabled processor's fields then do not exist for that tenant. `schema/` never names a processor.

Types are created per schema and referred to by name (`SchemaParts.ref`), resolved when Strawberry converts
the schema; so a row type can carry links that depend on the processor set without any shared mutable class.
Every object type is backed by plain dicts (the default resolver reads keys), which is what lets the executor
(`schema.executor`) copy plain columns without calling a resolver per field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from core.errors import FlowError

ENTITIES = ("Account", "Contract")
"""Shared entity types processors lend fields to (``Account.balances``, ``Contract.storage``)."""


class SchemaCompositionError(FlowError):
    """Two processors claim the same GraphQL name (a programming error, reported at start-up)."""

    code = "schema_composition_error"


@dataclass
class SchemaParts:
    """The parts of one schema under construction (see the module docstring)."""

    enabled: frozenset[str]
    types: dict[str, Any] = field(default_factory=dict)
    query_fields: dict[str, StrawberryField] = field(default_factory=dict)
    entity_fields: dict[str, dict[str, StrawberryField]] = field(
        default_factory=lambda: {name: {} for name in ENTITIES}
    )
    _owners: dict[str, str] = field(default_factory=dict)

    def ref(self, annotation: str) -> Any:
        """A type annotation (e.g. ``"TokenTransfer"``, ``"list[TokenBalance]"``, ``"Account | None"``)
        resolved by name among this schema's types."""
        from strawberry.annotation import StrawberryAnnotation

        return StrawberryAnnotation(annotation, namespace=self.types)

    def define(self, name: str, build: Callable[[], Any]) -> Any:
        """The type `name`, built by `build()` the first time it is asked for (types shared by several
        processors, such as ``TokenBalance``, are defined once)."""
        if name not in self.types:
            self.types[name] = build()
        return self.types[name]

    def add_type(self, cls: Any) -> None:
        """Register a type built outside `define` (its GraphQL name is its definition's name)."""
        definition: StrawberryObjectDefinition = cls.__strawberry_definition__
        self.types.setdefault(definition.name, cls)

    def add_query_field(self, owner: str, strawberry_field: StrawberryField) -> None:
        """A top-level query field contributed by processor `owner`."""
        name = str(strawberry_field.graphql_name)
        self._claim(f"Query.{name}", owner)
        self.query_fields[name] = strawberry_field

    def add_entity_field(self, owner: str, entity: str, strawberry_field: StrawberryField) -> None:
        """A field of a shared entity type (``Account``, ``Contract``) contributed by processor `owner`."""
        name = str(strawberry_field.graphql_name)
        self._claim(f"{entity}.{name}", owner)
        self.entity_fields[entity][name] = strawberry_field

    def _claim(self, path: str, owner: str) -> None:
        if path in self._owners and self._owners[path] != owner:
            raise SchemaCompositionError(
                f"GraphQL field {path} is defined by {self._owners[path]} and {owner}"
            )
        self._owners[path] = owner


@dataclass(frozen=True)
class GraphQLParts:
    """A processor's GraphQL contribution: ``contribute(parts)`` adds its types, query fields, entity fields
    and links (its dataloaders live in ``resolvers/``, one per file, created per request by the context)."""

    contribute: Callable[[SchemaParts], None]
