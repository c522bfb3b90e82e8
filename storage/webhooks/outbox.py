"""Writing the outbox (`storage.webhooks.tables.webhook_messages`): messages inserted in bulk, idempotently.

A message id is derived from its endpoint, event type and row (`services.webhooks.messages.message_id`), so the
insert skips ids already there (``ON CONFLICT DO NOTHING`` on both dialects): re-ingesting a ledger, a backfill
overlapping the live tail, or a backfill run twice records nothing twice, and the first recording's payload is
the one every attempt sends. Called on the connection of the ingest transaction (live) or of a backfill page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.copy_writes import copy_rows
from storage.db import dialect_name
from storage.tables import tenants, utcnow
from storage.webhooks.tables import PENDING, webhook_endpoints, webhook_messages


class NewMessage(Protocol):
    """What a recorded message carries (`services.webhooks.messages.Message` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def endpoint_id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def row_id(self) -> str: ...
    @property
    def ledger(self) -> int: ...
    @property
    def closed_at(self) -> datetime: ...
    @property
    def payload(self) -> bytes: ...


async def insert_messages(
    conn: AsyncConnection, messages: Sequence[NewMessage], now: datetime | None = None
) -> dict[str, int]:
    """Insert `messages` as pending (due at `now`), skipping ids already recorded. Returns endpoint id -> how
    many were new."""
    if not messages:
        return {}
    moment = now or utcnow()
    rows = [
        {
            "id": m.id,
            "endpoint_id": m.endpoint_id,
            "tenant_id": m.tenant_id,
            "event_type": m.event_type,
            "row_id": m.row_id,
            "ledger": m.ledger,
            "closed_at": m.closed_at,
            "payload": m.payload.decode(),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": moment,
            "created_at": moment,
        }
        for m in _unique(messages)
    ]
    new: Counter[str] = Counter()
    if dialect_name(conn) == "postgresql":
        # COPY into a staging table and one INSERT ... SELECT (storage.copy_writes): a batch can hold tens of
        # thousands of messages, and multi-row VALUES statements that size cost seconds to build and send.
        written = await copy_rows(
            conn, webhook_messages, rows, on_conflict="ignore", returning=("endpoint_id",)
        )
        new.update(endpoint for (endpoint,) in written)
        return dict(new)
    # One statement executed with every row: SQLAlchemy compiles it once (cached) and sends the rows in multi-row
    # pages of `insertmanyvalues_page_size` ("insertmanyvalues", RETURNING included). A `.values(rows)` statement
    # was compiled anew for every batch, one bind parameter at a time: most of a webhook-heavy ingest's CPU.
    statement = (
        sqlite.insert(webhook_messages)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(webhook_messages.c.endpoint_id)
    )
    new.update(endpoint for (endpoint,) in (await conn.execute(statement, rows)).all())
    return dict(new)


def _unique(messages: Iterable[NewMessage]) -> list[NewMessage]:
    # One statement may not insert the same id twice (a batch holding a row twice): the first one stays. In id
    # order: a live batch and a backfill page inserting the same ids wait for each other in one order, never
    # in a cycle (a deadlock on PostgreSQL's unique index).
    seen: dict[str, NewMessage] = {}
    for message in messages:
        seen.setdefault(message.id, message)
    return [seen[key] for key in sorted(seen)]


async def tenant_documents(conn: AsyncConnection, tenant_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored configuration documents of `tenant_ids` (what the large-payment thresholds come from), read on
    the recording transaction so a batch sees one version of each."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return {}
    result = await conn.execute(select(tenants.c.id, tenants.c.config).where(tenants.c.id.in_(ids)))
    return {tenant_id: dict(config) for tenant_id, config in result.all()}


async def set_endpoint_status(
    conn: AsyncConnection, endpoint_id: str, status: str, *, only_from: Sequence[str] | None = None
) -> bool:
    """Set an endpoint's status (a backfill's ``backfilling`` around its history); with `only_from`, only from one
    of those statuses (a backfill does not re-enable an endpoint the tenant disabled meanwhile). Returns whether
    it changed."""
    statement = update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    if only_from is not None:
        statement = statement.where(webhook_endpoints.c.status.in_(list(only_from)))
    result = await conn.execute(statement.values(status=status, updated_at=utcnow()))
    return bool(result.rowcount)
