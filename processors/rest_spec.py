"""REST route specs: what a processor's ``rest.py`` declares, as data.

Processors may not import ``api/`` (DESIGN's import rules), so a processor describes each REST compatibility
route it offers — path, the listing that answers it, which query and path parameters map onto which field of the
listing's filter model — and ``api/rest.py`` turns the specs into Starlette routes, discovery entries and the
tenant's OpenAPI document. The filter model validates every value (the same model GraphQL uses), so both APIs
accept and refuse the same inputs and run the same storage filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RouteKind = Literal["list", "token_balances", "pair_stats"]


@dataclass(frozen=True)
class RestParam:
    """A query (or path) parameter filling field ``field`` of the listing's filter model.

    A list field takes several values, comma-separated or repeated (``event_type=transfer,mint``). The OpenAPI
    schema of the value comes from the filter model's JSON schema unless ``schema`` overrides it; the
    description likewise (the field's docstring) unless given here.
    """

    name: str
    field: str
    description: str = ""
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RestRoute:
    """One ``GET`` route under ``/api/v1/{customer_id}``.

    ``processor``: the owning processor's name (the route exists when the tenant enables it; the API key needs
    ``read:<processor>``). ``listing``: the listing (`processors.listing.Listing.name`) whose table and filter
    model answer it. ``kind``: ``list`` (a page of the listing's rows), or one of the routes with their own
    reading (``token_balances``, ``pair_stats``). ``path_params``: the ``{name}`` segments of ``path`` and the
    filter fields they fill. ``fixed``: filter values always applied. ``relative_to``: a parameter naming
    accounts; when given, each row says how it moved relative to them (``direction``, ``counterparty``).
    """

    path: str
    processor: str
    listing: str
    description: str
    params: tuple[RestParam, ...] = ()
    path_params: tuple[RestParam, ...] = ()
    kind: RouteKind = "list"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    relative_to: str | None = None
    summary: str = ""
    method: str = "GET"

    @property
    def operation_id(self) -> str:
        """A stable OpenAPI operation id derived from the path (``/dex/pairs/{pair}/stats`` -> ``dex_pairs_stats``)."""
        parts = [p for p in self.path.strip("/").replace("-", "_").split("/") if not p.startswith("{")]
        return "_".join(parts)
