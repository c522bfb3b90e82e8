"""The per-tenant schema: built from the enabled processors' GraphQL parts, cached per processor set.

`schema_for(registry, names)` returns the `TenantSchema` of a set of enabled processor names, building it on first
use (tenants with the same processors share one schema, its parser/validation cache and its executor plans).
Building asks every processor of the registry in the set for its parts (`resolvers.parts`), so a new processor
module adds its fields without any change here; two processors claiming one name fail the build, naming both
(`build_schemas` builds every set in use at start-up, so that happens before any request). The schema holds:

- each processor's query fields (listings as Relay connections, point lookups);
- ``account(address)`` / ``contract(contractId)`` when processors lent fields to those entities;
- ``_meta { latestLedger queryTimeMs dataSources }``;
- a ``Subscription`` root when the processors declare subscription fields (``processor.subscriptions``, built by
  `resolvers.subscriptions`); `TenantSchema.subscribe` runs them (`schema.subscribe`).

Execution goes straight to graphql-core with `schema.executor.FastExecutor` and the cached documents of
`schema.guards`; Strawberry builds the schema and wraps resolvers, and is not on the hot path otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from graphql.pyutils import is_awaitable
from strawberry.schema.config import StrawberryConfig
from strawberry.types.field import StrawberryField

from core.errors import BadRequest, invalid_parameter
from ledgers.strkeys import is_contract
from processors.registry import Registry
from resolvers.context import RequestContext
from resolvers.parts import SchemaParts
from resolvers.row_types import key_of, object_type, plain_field, resolver_field
from resolvers.scalars import SCALAR_MAP, Address
from resolvers.subscriptions import subscription_field
from schema.executor import FastExecutor
from schema.guards import DocumentCache
from schema.subscribe import PushedStream, subscribe

META_FIELD = "_meta"


def read_key(source: Any, name: str) -> Any:
    """The default resolver: rows and other objects are dicts keyed by the fields' Python names."""
    if type(source) is dict:
        return source.get(key_of(name))
    return getattr(source, name)


@dataclass(frozen=True)
class TenantSchema:
    """A built schema with its document cache."""

    strawberry_schema: strawberry.Schema
    graphql_schema: GraphQLSchema
    documents: DocumentCache
    processors: frozenset[str]

    async def execute(
        self,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        context: RequestContext,
    ) -> ExecutionResult:
        if _is_subscription(document, operation_name):
            # Over HTTP a subscription would be a null with no rows: say where it is served instead.
            refused = BadRequest(
                "subscriptions are served over WebSocket at this GraphQL path (graphql-transport-ws)",
                code="subscriptions_need_websocket",
            )
            return ExecutionResult(None, errors=[GraphQLError(refused.message, original_error=refused)])
        result = execute(
            self.graphql_schema,
            document,
            context_value=context,
            variable_values=dict(variables) if variables is not None else None,
            operation_name=operation_name,
            executor_class=FastExecutor,
        )
        if is_awaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result

    async def subscribe(
        self,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        context: RequestContext,
    ) -> ExecutionResult | PushedStream:
        """A subscription operation: its refusal, or its stream of `schema.subscribe.Pushed` items."""
        return await subscribe(
            self.graphql_schema, document, variables, operation_name, context, self.processors
        )


def _is_subscription(document: DocumentNode, operation_name: str | None) -> bool:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    return len(chosen) == 1 and chosen[0].operation is OperationType.SUBSCRIPTION


def _meta_field(parts: SchemaParts) -> StrawberryField:
    parts.define(
        "Meta",
        lambda: object_type(
            "Meta",
            [
                plain_field(
                    "latest_ledger", int | None, description="The last ledger ingested for the network."
                ),
                plain_field("query_time_ms", float, description="Time spent answering this request."),
                plain_field("data_sources", list[str], description="Stores that answered: hot, cold."),
            ],
            "About this response.",
        ),
    )

    async def resolve(info: strawberry.Info) -> Any:
        ctx: RequestContext = info.context
        # queryTimeMs and dataSources are final only once every other field is done: the endpoint fills
        # them in after execution (api.graphql); these are the values so far.
        return {
            "latest_ledger": await ctx.latest_ledger(),
            "query_time_ms": ctx.elapsed_ms(),
            "data_sources": sorted(ctx.sources),
        }

    return resolver_field(
        META_FIELD, parts.ref("Meta"), resolve, "Latest ledger, query time and data sources of this response."
    )


def _entity_lookups(parts: SchemaParts) -> list[StrawberryField]:
    """``account`` and ``contract`` point lookups, for the entities processors lent fields to."""
    fields = []
    if parts.has_entity("Account"):
        parts.define(
            "Account",
            lambda: object_type(
                "Account",
                [plain_field("address", str), *parts.fields_for("Account")],
                "An account or contract holding balances (G..., M... or C...).",
            ),
        )

        def account(address: Address) -> Any:
            return {"address": address}

        fields.append(
            resolver_field(
                "account", parts.ref("Account"), account, "An account's (or contract's) current balances."
            )
        )
    if parts.has_entity("Contract"):
        parts.define(
            "Contract",
            lambda: object_type(
                "Contract",
                [plain_field("contract_id", str), *parts.fields_for("Contract")],
                "A Soroban contract.",
            ),
        )

        def contract(contract_id: Address) -> Any:
            if not is_contract(contract_id):
                raise invalid_parameter("contractId", "not a contract address (C...)")
            return {"contract_id": contract_id}

        fields.append(
            resolver_field("contract", parts.ref("Contract"), contract, "A contract's current storage.")
        )
    return fields


def build_schema(registry: Registry, processors: frozenset[str]) -> TenantSchema:
    """A schema holding exactly the named processors' fields (see the module docstring)."""
    unknown = processors - {p.name for p in registry}
    if unknown:
        raise ValueError(f"unknown processors {sorted(unknown)}")
    names_of = {p.type_name: p.name for p in registry}
    missing = {names_of[t] for p in registry if p.name in processors for t in p.requires} - processors
    if missing:  # tenant configs never allow this; a schema without them would miss the types they define
        raise ValueError(
            f"processors {sorted(processors)} lack the processors they require: {sorted(missing)}"
        )
    parts = SchemaParts()
    for processor in registry:
        graphql = processor.graphql_parts() if processor.name in processors else None
        if graphql is not None:
            graphql.contribute(parts)
    lookups = _entity_lookups(parts)
    meta = _meta_field(parts)
    subscriptions = [
        subscription_field(parts, declared)
        for processor in registry
        if processor.name in processors
        for declared in processor.subscriptions
    ]
    parts.finish()
    query = object_type("Query", [*parts.query_fields, *lookups, meta], "This tenant's data.")
    subscription = (
        object_type("Subscription", subscriptions, "This tenant's rows as they are ingested.")
        if subscriptions
        else None
    )
    built = strawberry.Schema(
        query=query,
        subscription=subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, default_resolver=read_key),
        execution_context_class=FastExecutor,
    )
    graphql_schema = built._schema
    return TenantSchema(built, graphql_schema, DocumentCache(graphql_schema, processors), processors)


@lru_cache(maxsize=128)
def schema_for(registry: Registry, processors: frozenset[str]) -> TenantSchema:
    """The cached schema of a processor set (at most one build per distinct set and registry in a process)."""
    return build_schema(registry, processors)


def build_schemas(registry: Registry, processor_sets: Iterable[frozenset[str]]) -> int:
    """Build (and cache) the schema of every processor set given and of the whole registry, so that a clash
    between processors fails start-up rather than a tenant's first request. Returns how many were built."""
    sets = {frozenset(p.name for p in registry), *processor_sets}
    for names in sets:
        schema_for(registry, names)
    return len(sets)
