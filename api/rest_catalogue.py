"""The REST routes the processors declare, and the listings that answer them (read from the registry)."""

from __future__ import annotations

from processors.listing import Listing
from processors.registry import all_processors, by_name
from processors.rest_spec import RestRoute


def declared_routes() -> list[RestRoute]:
    """Every processor's REST routes, in registry order."""
    return [route for proc in all_processors() for route in proc.routes]


def enabled_routes(enabled_types: frozenset[str]) -> list[RestRoute]:
    """The routes of a tenant enabling the processor types `enabled_types`."""
    return [r for r in declared_routes() if processor_type(r) in enabled_types]


def processor_type(route: RestRoute) -> str:
    """The config type name of the processor owning `route` (what a tenant enables)."""
    return by_name(route.processor).type_name


def listing_named(name: str) -> Listing:
    for proc in all_processors():
        for listing in proc.listings:
            if listing.name == name:
                return listing
    raise KeyError(f"no listing {name!r}")
