"""The processor contract: what every ``processors/<name>/`` package exports as its single `processor`.

A processor is a vertical slice of the service for one kind of data (token transfers, contract events, ...);
everything specific to it lives in its folder and reaches the core only through this typed description:

- ``name``: snake_case plural, equal to its (main) table name; also the REST path segment and the API key
  scope ``read:<name>``.
- ``type_name``: the name tenants write in their config (``TokenTransferProcessor``).
- ``version``: bumped when extraction output changes, so stored rows can be re-derived; shown per enabled
  processor in the tenant's discovery document.
- ``requires``: type names of processors whose rows this one derives from; a tenant enabling this one must
  enable those too. ``uses``: type names of processors whose code this one reuses or extends without needing
  them enabled. A processor package imports another processor's package only when it names it in one of
  the two (the registry and the layering test check it).
- ``config_model``: the pydantic model of the tenant's ``config:`` block; unknown keys are errors and every
  field has a default, so ``config: {}`` is valid.
- ``description``: one line, shown in the tenant's discovery document.
- ``tables``: SQLAlchemy tables; a history table whose natural unique key covers the order key (and
  ``closed_at``, the PostgreSQL partition column), plus current-state tables where the processor keeps state.
  ``archive``: which of its history tables move to cold storage (current-state tables never do).
- ``extract(view) -> {table: rows}``: pure and synchronous (it runs once per ledger for all tenants;
  coroutine functions are refused by the registry).
- ``select(rows, config) -> {table: rows}``: the per-tenant filter applied to extracted rows; never mutates.
- ``after_write(conn, tenant_id, rows, config)``: optional; runs inside the ingestion transaction after a
  batch's rows are written, with that tenant's rows of the batch (processor name -> table -> rows). For derived
  state that needs what is already stored (candles of a pair, sums of a custom token): it must be idempotent
  (re-ingesting a ledger changes nothing); it is written with the derived-state toolkit of
  ``storage/derived.py`` (and ``storage/flows.py``), which keeps dialect differences out of processors. A
  processor with ``after_write`` and no ``extract`` (a derived one) still takes part in ingestion. It may
  return the rows it wrote to its own history tables (table name -> rows, e.g. the candles it closed): the
  engine adds them to the batch's rows, so they are published and recorded for webhooks like extracted rows.
- ``on_archive(conn, tenant_id, rows, config)``: optional; runs inside the transaction that moves an archive
  watermark (`storage.cold.archival`), with the rows leaving the hot store (table name -> rows, in id order,
  possibly in several calls for one file). For derived state that sums over history: once a row is archived,
  `after_write` no longer finds it in the hot store, so a sum kept from history folds it in here, exactly once
  (the watermark and what this hook writes commit together). Called for every enabled processor of the
  tenant, whichever processor's table is archived.
- ``listings``: the list queries it serves to both APIs (`processors.listing.Listing`).
- ``graphql``: its GraphQL parts (types, query fields, fields lent to shared entities and to the types of the
  processors it requires, loaders), or `graphql_module(...)` naming the module that holds them: loaded when a
  schema is built (`Processor.graphql_parts()`), so ingestion, workers and the CLI never import strawberry.
- ``routes``: its REST compatibility routes (`processors.rest_spec.RestRoute`).
- ``webhook_events`` and ``subscriptions``: what it pushes to clients (`processors.delivery`).

Rows are the one dynamic type of the contract (`Row`: column name -> value); every callable is typed.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from ledgers.view import LedgerView
from processors.delivery import Subscription, WebhookEvent
from processors.listing import Listing
from processors.rest_spec import RestRoute
from storage.query import Row

if TYPE_CHECKING:
    # Only named here: importing it imports strawberry and graphql-core (about a second of CPU per process).
    from resolvers.parts import GraphQLParts

C = TypeVar("C", bound=BaseModel)

TableRows = Mapping[str, list[Row]]
"""Rows by table name: what `extract` returns and `select` takes."""
BatchRows = Mapping[str, Mapping[str, list[Row]]]
"""One tenant's rows of a batch, by processor name and table name: what `after_write` gets."""

Extractor = Callable[[LedgerView], TableRows]
Selector = Callable[[TableRows, C], dict[str, list[Row]]]
AfterWrite = Callable[[AsyncConnection, str, BatchRows, C], Awaitable[TableRows | None]]
OnArchive = Callable[[AsyncConnection, str, TableRows, C], Awaitable[None]]


@dataclass(frozen=True, eq=False)
class Processor(Generic[C]):
    """One processor's description; see the module docstring for the meaning of each field."""

    name: str
    type_name: str
    version: int
    requires: tuple[str, ...]
    config_model: type[C]
    description: str
    uses: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    archive: tuple[Table, ...] = ()
    extract: Extractor | None = None
    select: Selector[C] | None = None
    after_write: AfterWrite[C] | None = None
    on_archive: OnArchive[C] | None = None
    listings: tuple[Listing[Any], ...] = ()
    graphql: GraphQLParts | Callable[[], GraphQLParts] | None = None
    routes: tuple[RestRoute[Any], ...] = ()
    webhook_events: tuple[WebhookEvent, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()

    def graphql_parts(self) -> GraphQLParts | None:
        """Its GraphQL parts, importing them on first use when `graphql` names their module."""
        return self.graphql() if callable(self.graphql) else self.graphql


@dataclass(frozen=True)
class GraphQLModule:
    """`graphql` of a processor: the parts held as ``graphql`` by `module`, imported when a schema is built. A
    named class, not a closure: processors cross process boundaries (a decoding pool's plans are pickled)."""

    module: str

    def __call__(self) -> GraphQLParts:
        parts: GraphQLParts = importlib.import_module(self.module).graphql
        return parts


def graphql_module(module: str) -> GraphQLModule:
    """`graphql` of a processor naming the module that holds its parts (`GraphQLModule`)."""
    return GraphQLModule(module)
