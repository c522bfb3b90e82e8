"""The GraphQL request context: who asks, for which tenant, through which router, with per-request loaders.

One `RequestContext` is built for every GraphQL request (DESIGN "Examples to follow" 1 and 5): resolvers read
the router and tenant from it, check scopes with `require`, and get their dataloaders from `loader`, which
creates each loader on first use and keeps it for the rest of the request (so a loader never serves one
request's rows to another). It also gathers what `_meta` and the access log report (sources, rows, time).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from core.errors import Forbidden
from processors.listing import Listing
from storage.query import Filter
from storage.router import QueryRouter

L = TypeVar("L")


class LiveRows(Protocol):
    """Where subscription fields get their rows (`services.subscriptions.hub.SubscriptionHub` fits): the
    stored rows of `listing` after `after` (a row id or a query cursor; None = from now), matching `filters`,
    then the live ones, in id order, each once. Raises `core.errors` client errors for a bad `after`."""

    def stream(
        self,
        tenant_id: str,
        network: str,
        listing: Listing[Any],
        filters: tuple[Filter, ...],
        after: str | None,
    ) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...


class Reader(Protocol):
    """What the context needs of the caller (`api.middleware.auth.Principal` fits)."""

    def can_read(self, processor_name: str) -> bool: ...


@dataclass
class RequestContext:
    """Per-request state handed to every resolver as `info.context`."""

    router: QueryRouter
    tenant_id: str
    network: str
    principal: Reader
    configs: Mapping[str, BaseModel]
    """The configs of the tenant's enabled processors, by processor name (what its schema was built from)."""
    request_id: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    """The request's "now": one instant for every default time window in the request (so they batch)."""
    started: float = field(default_factory=time.perf_counter)
    sources: set[str] = field(default_factory=set)
    """Which stores answered (`hot`, `cold`), for `_meta.dataSources`."""
    rows: int = 0
    """Rows read to answer the request (pages, lookups), for its access log line."""
    live: LiveRows | None = None
    """The subscription source (set for WebSocket operations; None where subscriptions are not served)."""
    _loaders: dict[Hashable, Any] = field(default_factory=dict)

    def require(self, processor_name: str) -> None:
        """Refuse a field of a processor this API key is not scoped for (never an empty answer)."""
        if not self.principal.can_read(processor_name):
            raise Forbidden(
                f"this API key may not read {processor_name} (it needs the scope read:{processor_name})",
                code="insufficient_scope",
            )

    def for_event(self) -> RequestContext:
        """This context for one subscription event: the same caller and counters, loaders of its own (a
        subscription lives for hours: its loaders must neither serve old rows nor grow without bound)."""
        return dataclasses.replace(self, _loaders={})

    def loader(self, key: Hashable, factory: Callable[[RequestContext], L]) -> L:
        """The request's loader for `key`, created by `factory(context)` on first use."""
        found = self._loaders.get(key)
        if found is None:
            found = self._loaders[key] = factory(self)
        return found

    async def latest_ledger(self) -> int | None:
        """The network's last ingested ledger (`_meta`; the query router caches it for a second)."""
        return await self.router.latest_ledger(self.network)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)
