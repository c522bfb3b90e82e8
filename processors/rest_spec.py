"""REST route specs: what a processor's ``rest.py`` declares, as data.

Processors may not import ``api/`` (DESIGN's import rules), so a processor describes each REST compatibility
route it offers — path, the listing whose filter model validates its parameters, which query and path parameters
fill which field of that model — and ``api/rest.py`` turns the specs into Starlette routes, discovery entries and
the tenant's OpenAPI document. The filter model validates every value (the same model GraphQL uses), so both APIs
accept and refuse the same inputs and run the same storage filters.

A route is answered in one of two ways:

- a page of its listing's rows (the default): the API builds the `storage.query.Query`, pages and counts;
- its own reading (`RestReading`), for an answer that is not a page of stored rows (a pair's statistics over a
  window, balances summed from transfers): a function of a `RestCall` (the validated filters, the common
  parameters the route takes and the query router) returning a `RestPage`, with the fields of its rows declared
  so that OpenAPI and the JSON rendering know them.

Two processors may declare the same path when one of them marks its route ``fallback``: the fallback answers only
for tenants that enable no processor with a non-fallback route on that path (the token transfer processor sums
balances from transfers; the token balance processor, when enabled, answers the same path from ledger state).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from processors.listing import Listing
from storage.columns import RowField
from storage.query import Row

if TYPE_CHECKING:
    # Only a type here: importing the router at run time imports the cold tier's DuckDB and pyarrow (~60 MB of
    # RSS) into every process that loads the processors, ingestion processes included (issue 16).
    from storage.router import QueryRouter

F = TypeVar("F", bound=BaseModel)

PAGING = ("from", "to", "limit", "order", "cursor")
"""The common parameters of a list route: a ledger or time range, the page size, the order and the cursor."""


@dataclass(frozen=True)
class RestParam:
    """A query (or path) parameter filling field ``field`` of the listing's filter model.

    A list field takes several values, comma-separated or repeated (``event_type=transfer,mint``). A field
    written ``<field>:base`` / ``<field>:counter`` is one half of a ``BASE/COUNTER`` pair value of that field
    (both halves must be given). The OpenAPI schema of the value comes from the filter model's JSON schema unless
    ``schema`` overrides it; the description likewise (the field's docstring) unless given here.
    """

    name: str
    field: str
    description: str = ""
    schema: Mapping[str, Any] | None = None
    slashes: bool = False
    """A path parameter whose value may hold ``/`` (percent-encoded or not), e.g. a ``BASE/COUNTER`` pair."""


@dataclass(frozen=True)
class RestCall(Generic[F]):
    """What a route's own reading is given (see the module docstring)."""

    router: QueryRouter
    tenant_id: str
    configs: Mapping[str, BaseModel]
    """The configs of the tenant's enabled processors, by processor name."""
    filters: F
    """The route's filter model, filled from its path and query parameters and validated."""
    bounds: Mapping[str, datetime | int]
    """``from`` / ``to`` as given: a ledger number, or an aware UTC datetime (a date alone: the start of that day
    for ``from``, its end for ``to``)."""
    limit: int
    descending: bool
    cursor: str | None


@dataclass(frozen=True)
class RestPage:
    """A reading's answer: the rows (integers of string fields are turned into strings by the API), how many rows
    match in all, which stores answered, and the cursor of the next page (None at the end)."""

    rows: list[Row]
    total: int
    exact: bool
    sources: tuple[str, ...]
    next_cursor: str | None = None


@dataclass(frozen=True)
class RestReading(Generic[F]):
    """A route answered by its own function instead of a page of its listing."""

    read: Callable[[RestCall[F]], Awaitable[RestPage]]
    fields: tuple[RowField, ...]
    """The fields of its rows (their OpenAPI schema, and which integers are written as strings)."""
    row_type: str
    """The OpenAPI schema name of a row (e.g. ``PairStats``)."""


@dataclass(frozen=True)
class RowAnnotation(Generic[F]):
    """Fields a list route adds to each row of a page, computed from the request's filters (a movement's
    ``direction`` relative to the account asked about): `annotate` fills them in place. ``name`` goes into the
    OpenAPI schema name of the annotated rows (``TokenTransfersRelativeRow``)."""

    name: str
    fields: tuple[RowField, ...]
    annotate: Callable[[list[Row], F], None]


@dataclass(frozen=True)
class RestRoute(Generic[F]):
    """One ``GET`` route under ``/api/v1/{customer_id}``.

    ``processor``: the owning processor's name (the route exists when the tenant enables it). ``scope``: the
    processor whose ``read:<name>`` scope the API key needs (default: the owner). ``listing``: the listing whose
    filter model validates the parameters and whose rows a list route pages. ``path_params``: the ``{name}``
    segments of ``path`` and the filter fields they fill. ``common``: which of the common parameters (`PAGING`)
    it takes. ``reading``: the route's own reading, for routes that are not a page of the listing.
    ``annotation``: fields added to each row of a list route. ``fallback``: see the module docstring.
    """

    path: str
    processor: str
    listing: Listing[F]
    description: str
    summary: str = ""
    params: tuple[RestParam, ...] = ()
    path_params: tuple[RestParam, ...] = ()
    common: tuple[str, ...] = PAGING
    reading: RestReading[F] | None = None
    annotation: RowAnnotation[F] | None = None
    scope: str | None = None
    fallback: bool = False
    method: str = "GET"

    @property
    def required_scope(self) -> str:
        """The processor name of the ``read:<name>`` scope a key needs."""
        return self.scope or self.processor

    @property
    def operation_id(self) -> str:
        """A stable OpenAPI operation id derived from the path (``/dex/pairs/{pair}/stats`` -> ``dex_pairs_stats``)."""
        parts = [p for p in self.path.strip("/").replace("-", "_").split("/") if not p.startswith("{")]
        return "_".join(parts)
