"""An endpoint over stored history: preview (what it would have been sent) and backfill (record it now).

Both read the event's listing with the endpoint's filter through the query router (hot and cold tiers, SQL with
the listing's own filters: the semantics `storage.row_match` applies live), over a ledger range, and make each
row's message with `services.webhooks.messages` exactly as live recording does, so:

- a preview's count is the number of stored rows matching the filter in the range (for ``large_payment``, those
  at or above the tenant's threshold), and its payloads are the bytes a delivery would send;
- a backfill records the messages with the ids and bytes they had or would have had live; ids already recorded
  are skipped, so running it twice, or over ledgers also recorded live, records nothing twice. The endpoint is
  ``backfilling`` meanwhile (it records live batches, and delivery waits for it, so history is sent first) and
  ``enabled`` after; an endpoint the tenant disabled meanwhile stays disabled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import NotFound, invalid_parameter
from core.ids import MAX_LEDGER
from services.webhooks.events import EventCatalogue, event_filters
from services.webhooks.messages import LARGE_PAYMENT, Message, Thresholds, event_messages, no_thresholds
from services.webhooks.recorder import thresholds_of
from storage.query import MAX_LIMIT, Query
from storage.router import QueryRouter
from storage.webhooks.endpoints import BACKFILLING, Endpoint, endpoint_by_id
from storage.webhooks.outbox import insert_messages, set_endpoint_status, tenant_documents
from storage.webhooks.tables import ENABLED

PREVIEW_SAMPLE = 5  # payloads a preview shows
MAX_PREVIEW_SAMPLE = 50


@dataclass(frozen=True)
class Preview:
    """What an endpoint would have been sent for ledgers `from_ledger`-`to_ledger`: how many messages, by event
    type, and the first few payloads in row id order."""

    endpoint_id: str
    from_ledger: int
    to_ledger: int | None
    count: int
    by_event: dict[str, int]
    payloads: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "from_ledger": self.from_ledger,
            "to_ledger": self.to_ledger,
            "count": self.count,
            "by_event": self.by_event,
            "payloads": self.payloads,
        }


@dataclass(frozen=True)
class Backfilled:
    """What a backfill found (`matched`) and recorded anew (`recorded`; the rest were recorded already)."""

    endpoint_id: str
    from_ledger: int
    to_ledger: int | None
    matched: int
    recorded: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _ledger(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LEDGER:
        raise invalid_parameter(name, f"must be a ledger number (1-{MAX_LEDGER})")
    return value


def check_range(from_ledger: object, to_ledger: object) -> tuple[int, int | None]:
    """A client's ledger range, checked (400 naming the bad bound); `to_ledger` None: up to the newest stored."""
    first = _ledger("from_ledger", from_ledger)
    last = None if to_ledger is None else _ledger("to_ledger", to_ledger)
    if last is not None and last < first:
        raise invalid_parameter("to_ledger", "is before from_ledger")
    return first, last


async def _thresholds(engine: AsyncEngine, endpoint: Endpoint) -> Thresholds:
    if LARGE_PAYMENT not in endpoint.events:
        return no_thresholds
    async with engine.connect() as conn:
        documents = await tenant_documents(conn, [endpoint.tenant_id])
    return thresholds_of(documents.get(endpoint.tenant_id))


async def history_messages(
    router: QueryRouter,
    catalogue: EventCatalogue,
    endpoint: Endpoint,
    from_ledger: int,
    to_ledger: int | None,
    thresholds: Thresholds,
) -> AsyncIterator[tuple[str, list[Message]]]:
    """The endpoint's messages over stored history, a page of rows at a time, per event type in the endpoint's
    order (each event's in row id order): (event type, messages of the page)."""
    for event, filters in event_filters(catalogue, endpoint.events, endpoint.filter):
        listing = event.listing
        query: Query | None = Query(
            endpoint.tenant_id,
            listing.table,
            filters,
            from_ledger=from_ledger,
            to_ledger=to_ledger,
            time_column=listing.time_column,
            limit=MAX_LIMIT,
        )
        while query is not None:
            page = await router.fetch(query)
            yield (
                event.name,
                event_messages(
                    endpoint.id, endpoint.tenant_id, event.name, listing.table, filters, page.rows, thresholds
                ),
            )
            query = page.next_query()


async def _endpoint(engine: AsyncEngine, endpoint_id: str) -> Endpoint:
    async with engine.connect() as conn:
        endpoint = await endpoint_by_id(conn, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", code="webhook_not_found")
    return endpoint


async def preview(
    router: QueryRouter,
    catalogue: EventCatalogue,
    endpoint: Endpoint,
    from_ledger: int,
    to_ledger: int | None = None,
    *,
    sample: int = PREVIEW_SAMPLE,
) -> Preview:
    """What `endpoint` would have been sent for the stored rows of ledgers `from_ledger`-`to_ledger` (None: up
    to the newest stored)."""
    from_ledger, to_ledger = check_range(from_ledger, to_ledger)
    if not 0 <= sample <= MAX_PREVIEW_SAMPLE:
        raise invalid_parameter("sample", f"must be 0-{MAX_PREVIEW_SAMPLE}")
    thresholds = await _thresholds(router.engine, endpoint)
    by_event: dict[str, int] = {name: 0 for name in endpoint.events}
    first: list[Message] = []
    async for event, messages in history_messages(
        router, catalogue, endpoint, from_ledger, to_ledger, thresholds
    ):
        by_event[event] += len(messages)
        # Each event's messages come in row id order: its first `sample` may be among the first overall.
        if by_event[event] - len(messages) < sample:
            first.extend(messages[:sample])
    first.sort(key=lambda m: (m.row_id, m.event_type))
    return Preview(
        endpoint.id,
        from_ledger,
        to_ledger,
        sum(by_event.values()),
        by_event,
        [orjson.loads(m.payload) for m in first[:sample]],
    )


async def preview_endpoint(
    router: QueryRouter,
    catalogue: EventCatalogue,
    endpoint_id: str,
    from_ledger: int,
    to_ledger: int | None = None,
) -> Preview:
    """`preview` of a stored endpoint (404 ``webhook_not_found`` when there is none)."""
    return await preview(
        router, catalogue, await _endpoint(router.engine, endpoint_id), from_ledger, to_ledger
    )


async def backfill(
    router: QueryRouter,
    catalogue: EventCatalogue,
    endpoint_id: str,
    from_ledger: int,
    to_ledger: int | None = None,
) -> Backfilled:
    """Record the endpoint's messages for the stored rows of ledgers `from_ledger`-`to_ledger` (None: up to the
    newest stored; later ledgers are recorded live, the endpoint existing), a page per transaction."""
    from_ledger, to_ledger = check_range(from_ledger, to_ledger)
    engine = router.engine
    endpoint = await _endpoint(engine, endpoint_id)
    async with engine.begin() as conn:
        await set_endpoint_status(conn, endpoint.id, BACKFILLING, only_from=(ENABLED, BACKFILLING))
    thresholds = await _thresholds(engine, endpoint)
    matched = recorded = 0
    async for _event, messages in history_messages(
        router, catalogue, endpoint, from_ledger, to_ledger, thresholds
    ):
        matched += len(messages)
        if messages:
            async with engine.begin() as conn:
                recorded += sum((await insert_messages(conn, messages)).values())
    async with engine.begin() as conn:
        await set_endpoint_status(conn, endpoint.id, ENABLED, only_from=(BACKFILLING,))
    return Backfilled(endpoint.id, from_ledger, to_ledger, matched, recorded)
