"""Recording a batch's webhook messages in its ingest transaction (`ingest.engine.Outbox`).

`IngestEngine.write_batch` calls `OutboxRecorder.record` on the batch's connection after its rows and derived
state are written and before its checkpoint moves, so rows and messages commit together or not at all. For each
endpoint of the batch's tenants that messages are recorded for (`storage.webhooks.endpoints.recording_endpoints`:
enabled, backfilling and disabled ones, so enabling an endpoint again delivers what it missed), each of its event
types takes the tenant's rows of the event's listing table that match the endpoint's filter (`storage.row_match`,
the listing query's semantics), and a ``large_payment`` only transfers at or above the tenant's threshold.
Message ids skip what is already recorded, so re-ingesting a ledger records nothing new.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import ClientError
from core.tenant_config import ApiConfig
from processors.registry import Registry
from services.webhooks.events import EventCatalogue, event_filters
from services.webhooks.messages import LARGE_PAYMENT, Message, Thresholds, event_messages, no_thresholds
from storage.webhooks.endpoints import Endpoint, recording_endpoints
from storage.webhooks.outbox import insert_messages, tenant_documents

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]
TenantRows = Mapping[str, Mapping[str, Mapping[str, Rows]]]


def thresholds_of(document: Mapping[str, Any] | None) -> Thresholds:
    """The large-payment thresholds of a stored tenant document (validated when it was stored)."""
    raw = ((document or {}).get("customer") or {}).get("api") or {}
    setting = (
        {"large_payment_threshold": raw["large_payment_threshold"]}
        if "large_payment_threshold" in raw
        else {}
    )
    try:
        api = ApiConfig.model_validate(setting)
    except ValidationError:
        # A document stored valid that a later release refuses: no large payments (said loudly) rather than
        # every tenant's ingestion stopping on it.
        log.exception("a stored large_payment_threshold is refused; no large payments recorded")
        return no_thresholds
    return api.large_payment_threshold_for


def endpoint_messages(
    catalogue: EventCatalogue,
    endpoint: Endpoint,
    rows: Mapping[str, Mapping[str, Rows]],
    thresholds: Thresholds,
) -> list[Message]:
    """The messages one tenant's rows of a batch (processor -> table -> rows) make for `endpoint`."""
    messages: list[Message] = []
    for event, filters in event_filters(catalogue, endpoint.events, endpoint.filter):
        listing = event.listing
        table_rows = rows.get(listing.processor, {}).get(listing.table.name, ())
        messages.extend(
            event_messages(
                endpoint.id, endpoint.tenant_id, event.name, listing.table, filters, table_rows, thresholds
            )
        )
    return messages


class OutboxRecorder:
    """`ingest.engine.Outbox` over the event catalogue."""

    def __init__(self, catalogue: EventCatalogue) -> None:
        self.catalogue = catalogue

    async def record(
        self, conn: AsyncConnection, rows: TenantRows, tables: Mapping[str, Table]
    ) -> Mapping[str, int]:
        endpoints = await recording_endpoints(conn, rows.keys())
        if not endpoints:
            return {}
        needing = {e.tenant_id for e in endpoints if LARGE_PAYMENT in e.events}
        documents = await tenant_documents(conn, needing)
        thresholds = {tenant: thresholds_of(documents.get(tenant)) for tenant in needing}
        messages: list[Message] = []
        for endpoint in endpoints:
            tenant = endpoint.tenant_id
            try:
                found = endpoint_messages(
                    self.catalogue, endpoint, rows.get(tenant, {}), thresholds.get(tenant, no_thresholds)
                )
            except ClientError:
                # A filter stored valid that a later release refuses: that endpoint records nothing (said loudly)
                # rather than every tenant's ingestion stopping on it.
                log.exception(
                    "webhook endpoint %s has a filter its events refuse; nothing recorded", endpoint.id
                )
                continue
            messages.extend(found)
        return await insert_messages(conn, messages)


def outbox_for(registry: Registry) -> OutboxRecorder:
    """The outbox the ingest engine records with, for the processors of `registry`."""
    return OutboxRecorder(EventCatalogue.from_registry(registry))
