"""The REST routes the processors declare, grouped by path, and which one answers for a tenant.

Several processors may declare one path when all but one mark theirs ``fallback`` (`processors.rest_spec`): for a
tenant, the non-fallback route of an enabled processor answers, else the fallback of an enabled processor. The
route table, discovery and the OpenAPI document all resolve routes here, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from processors.registry import Registry
from processors.rest_spec import RestRoute


@dataclass(frozen=True)
class PathRoutes:
    """The routes declared on one method and path, non-fallback ones first."""

    method: str
    path: str
    routes: tuple[RestRoute[Any], ...]

    def for_tenant(self, enabled: frozenset[str]) -> RestRoute[Any] | None:
        """The route answering a tenant whose enabled processor names are `enabled` (None: none is enabled)."""
        return next((route for route in self.routes if route.processor in enabled), None)

    @property
    def minimal(self) -> RestRoute[Any]:
        """The route whose processor a tenant enables to get this path at all (the fallback, if there is one)."""
        return next((route for route in self.routes if route.fallback), self.routes[0])


@cache
def path_routes(registry: Registry) -> tuple[PathRoutes, ...]:
    """Every declared method and path with its routes, in registry order of first declaration (once per
    registry: discovery and OpenAPI ask on every request)."""
    grouped: dict[tuple[str, str], list[RestRoute[Any]]] = {}
    for route in registry.routes():
        grouped.setdefault((route.method, route.path), []).append(route)
    return tuple(
        PathRoutes(method, path, tuple(sorted(routes, key=lambda r: r.fallback)))
        for (method, path), routes in grouped.items()
    )


def enabled_routes(registry: Registry, enabled: frozenset[str]) -> list[RestRoute[Any]]:
    """The route answering each path for a tenant whose enabled processor names are `enabled`."""
    return [route for group in path_routes(registry) if (route := group.for_tenant(enabled)) is not None]


def processor_type(registry: Registry, route: RestRoute[Any]) -> str:
    """The config type name of the processor owning `route` (what a tenant enables)."""
    return registry.by_name(route.processor).type_name
