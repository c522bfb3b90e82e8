"""The processor contract: what every ``processors/<name>/`` package exports as its single `processor`.

A processor is a vertical slice of the service for one kind of data (token transfers, contract events, ...):

- ``name``: snake_case plural, equal to its table name (``token_transfers``); also the REST path segment, the
  API key scope ``read:<name>`` and, camelCased, the GraphQL query field (``tokenTransfers``).
- ``type_name``: the name tenants write in their config (``TokenTransferProcessor``).
- ``version``: bumped when extraction output changes, so stored rows can be re-derived.
- ``requires``: type names of processors whose rows this one derives from; a tenant enabling this one must
  enable those too, and the registry checks they exist.
- ``config_model``: the pydantic model of the tenant's ``config:`` block for this processor; unknown keys are
  errors and every field has a default, so ``config: {}`` is valid.
- ``description``: one line, shown in the tenant's discovery document.
- ``webhook_events``: the webhook event names this processor can emit.
- ``tables``: SQLAlchemy tables on the shared metadata; an event/history table whose natural unique key covers
  the order key (and ``closed_at``, the PostgreSQL partition column), plus a current-state table where the
  processor keeps state.
- ``extract(view) -> rows``: pure and synchronous (it runs once per ledger for all tenants; coroutine
  functions are refused by the registry).
- ``select(rows, config) -> rows``: the per-tenant filter applied to extracted rows.
- ``after_write(conn, tenant_id, rows, config)``: optional, async; runs inside the ingestion transaction after a
  batch's rows are written, with that tenant's rows of the batch (processor name -> table -> rows). For derived
  state that needs what is already stored (candles of a pair, sums of a custom token): it must be idempotent
  (re-ingesting a ledger changes nothing), and its SQL lives in ``storage/``. A processor with ``after_write``
  and no ``extract`` (a derived one) still takes part in ingestion.
- ``listings``: the list queries it serves to the APIs (`processors.listing.Listing`: a table, a filter model
  and its translation into storage filters), shared by GraphQL and REST.
- ``graphql``: the processor's GraphQL parts (types, query and subscription fields, loaders).
- ``routes``: the REST compatibility routes.
- ``archive``: names of the tables that move to cold storage (current-state tables never do).

This foundation defines identity and configuration only; extraction, tables, GraphQL and REST are filled in by
each processor's own issue, which is why those fields default to empty here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Processor:
    """One processor's description; see the module docstring for the meaning of each field."""

    name: str
    type_name: str
    version: int
    requires: tuple[str, ...]
    config_model: type[BaseModel]
    description: str
    webhook_events: tuple[str, ...] = ()
    tables: tuple[Any, ...] = ()
    extract: Callable[..., Any] | None = None
    select: Callable[..., Any] | None = None
    after_write: Callable[..., Awaitable[None]] | None = None
    listings: tuple[Any, ...] = ()
    graphql: object | None = None
    routes: tuple[Any, ...] = ()
    archive: tuple[str, ...] = ()
