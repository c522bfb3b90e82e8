"""How processors add themselves to a tenant's GraphQL schema.

Each processor's ``graphql.py`` exports a `GraphQLParts`; its ``contribute(parts)`` is called once for every
schema built (one per distinct set of enabled processors, `schema.build`) with a fresh `SchemaParts`. It adds:

- its types (`define`): a name and a function building the type. Builders run only once every enabled processor
  has contributed (`finish`), so a type can include what others added: the fields lent to it (`fields_for`), or
  a link to a shared entity that exists in this schema (`has_entity`);
- its query fields (`add_query_field`);
- fields it lends to another type (`add_field`): to the shared entities ``Account`` and ``Contract``, or to a
  type of a processor it requires (a derived processor adding its statistics to the rows it derives from).

A contribution marked ``fallback`` (a type, a query field, a lent field) gives way to a non-fallback one of the
same name from another enabled processor: a processor may offer an approximate answer (balances summed from the
movements it stores) that a processor keeping exact state replaces when the tenant enables it
(docs/decisions.md "Processors and the core" names the cases).
Two non-fallback contributions of one name by different processors are a `SchemaCompositionError` naming
both, raised when the schema is built (at start-up for every processor set in use). No processor needs to know
which others are enabled, and `schema/` never names a processor.

Types are referred to by name (`ref`), resolved when Strawberry converts the schema; every object type is backed
by plain dicts (the default resolver reads keys), which is what lets the executor (`schema.executor`) copy
plain columns without calling a resolver per field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strawberry.annotation import StrawberryAnnotation
from strawberry.types.field import StrawberryField

from core.errors import FlowError

SHARED = ""
"""The owner of a type defined by shared machinery (``PageInfo``, connection types): the first definition wins."""


class SchemaCompositionError(FlowError):
    """Two processors claim the same GraphQL name (a programming error, reported at start-up)."""

    code = "schema_composition_error"


@dataclass(frozen=True)
class _Claim:
    owner: str
    fallback: bool


@dataclass
class SchemaParts:
    """The parts of one schema under construction (see the module docstring)."""

    types: dict[str, Any] = field(default_factory=dict)
    _builders: dict[str, tuple[_Claim, Callable[[], Any]]] = field(default_factory=dict)
    _query_fields: dict[str, tuple[_Claim, StrawberryField]] = field(default_factory=dict)
    _lent: dict[str, dict[str, tuple[_Claim, StrawberryField]]] = field(default_factory=dict)
    _finished: bool = False

    def ref(self, annotation: str) -> StrawberryAnnotation:
        """A type annotation (e.g. ``"Widget"``, ``"list[Widget]"``, ``"Account | None"``)
        resolved by name among this schema's types."""
        return StrawberryAnnotation(annotation, namespace=self.types)

    def define(
        self, name: str, build: Callable[[], Any], *, owner: str = SHARED, fallback: bool = False
    ) -> None:
        """The type `name`, built by `build()` when the schema is finished (see the module docstring)."""
        claim = _Claim(owner, fallback)
        self._builders[name] = self._winner(f"type {name}", self._builders.get(name), (claim, build))

    def add_query_field(
        self, owner: str, strawberry_field: StrawberryField, *, fallback: bool = False
    ) -> None:
        """A top-level query field contributed by processor `owner`."""
        name = str(strawberry_field.graphql_name)
        entry = (_Claim(owner, fallback), strawberry_field)
        self._query_fields[name] = self._winner(f"Query.{name}", self._query_fields.get(name), entry)

    def add_field(
        self, type_name: str, owner: str, strawberry_field: StrawberryField, *, fallback: bool = False
    ) -> None:
        """A field lent to type `type_name` (a shared entity, or a type of a processor `owner` requires)."""
        name = str(strawberry_field.graphql_name)
        fields = self._lent.setdefault(type_name, {})
        fields[name] = self._winner(
            f"{type_name}.{name}", fields.get(name), (_Claim(owner, fallback), strawberry_field)
        )

    def fields_for(self, type_name: str) -> list[StrawberryField]:
        """The fields other processors lent to `type_name` (for its builder)."""
        return [f for _, f in self._lent.get(type_name, {}).values()]

    def has_entity(self, entity: str) -> bool:
        """Whether the shared entity type `entity` exists in this schema (some processor lent it a field)."""
        return bool(self._lent.get(entity))

    def owned_names(self, owner: str) -> set[str]:
        """The type and query field names `owner` contributed (fallbacks included)."""
        names = {name for name, (claim, _) in self._builders.items() if claim.owner == owner}
        return names | {name for name, (claim, _) in self._query_fields.items() if claim.owner == owner}

    @property
    def query_fields(self) -> list[StrawberryField]:
        return [f for _, f in self._query_fields.values()]

    def finish(self) -> None:
        """Build every defined type (after every processor contributed)."""
        if self._finished:
            return
        self._finished = True
        for name, (_, build) in self._builders.items():
            self.types[name] = build()

    @staticmethod
    def _winner(what: str, current: tuple[_Claim, Any] | None, new: tuple[_Claim, Any]) -> tuple[_Claim, Any]:
        if current is None:
            return new
        (held, _), (claim, _) = current, new
        if held.owner == claim.owner or held.owner == SHARED:
            return current  # defined again by the same owner (a shared type, a type two listings use)
        if held.fallback != claim.fallback:
            return new if held.fallback else current
        raise SchemaCompositionError(
            f"GraphQL {what} is defined by both {held.owner} and {claim.owner}",
            details={"processors": sorted({held.owner, claim.owner})},
        )


@dataclass(frozen=True)
class GraphQLParts:
    """A processor's GraphQL contribution: ``contribute(parts)`` adds its types, query fields and lent fields
    (its dataloaders live in its own folder, one per file, created per request by the context)."""

    contribute: Callable[[SchemaParts], None]
