"""Reading webhook endpoints (`storage.webhooks.tables.webhook_endpoints`) as `Endpoint` records.

The ingest transaction reads the endpoints of a batch's tenants with `recording_endpoints` (on its own
connection, so an endpoint added or removed takes effect at a batch boundary: every batch committed after the
endpoint exists records its messages). The writes (insert, subscription update, delete, rotate, enable/disable)
take the caller's connection, so a service composes them into one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.webhooks.tables import (
    DISABLED,
    ENABLED,
    PENDING,
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
)

BACKFILLING = "backfilling"  # recorded live, not yet delivered: its history is being recorded first
RECORDING_STATUSES = (ENABLED, BACKFILLING, "disabled")
"""Statuses whose endpoints get messages recorded. A disabled endpoint keeps its outbox growing (bounded by
`webhook_retention_days`) so that enabling it again delivers what it missed."""


@dataclass(frozen=True)
class Endpoint:
    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...]
    filter: Mapping[str, Any]
    description: str | None
    signing: str
    secret: str
    public_key: str | None
    previous_secret: str | None
    previous_public_key: str | None
    previous_expires_at: datetime | None
    ordered: bool
    max_concurrency: int
    source: str
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """What the tenant may see: everything but the secrets (shown once, at creation and rotation)."""
        shown = asdict(self)
        shown.pop("secret")
        shown.pop("previous_secret")
        shown["events"] = list(self.events)
        shown["filter"] = dict(self.filter)
        return shown


def endpoint_from_row(row: Mapping[Any, Any]) -> Endpoint:
    values = dict(row)
    values["events"] = tuple(values["events"])
    values["filter"] = dict(values["filter"] or {})
    return Endpoint(**values)


async def recording_endpoints(conn: AsyncConnection, tenant_ids: Iterable[str]) -> list[Endpoint]:
    """The endpoints of `tenant_ids` that messages are recorded for, in id order."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return []
    result = await conn.execute(
        select(webhook_endpoints)
        .where(webhook_endpoints.c.tenant_id.in_(ids), webhook_endpoints.c.status.in_(RECORDING_STATUSES))
        .order_by(webhook_endpoints.c.id)
    )
    return [endpoint_from_row(row) for row in result.mappings()]


async def endpoint_by_id(conn: AsyncConnection, endpoint_id: str) -> Endpoint | None:
    row = (
        (await conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)))
        .mappings()
        .first()
    )
    return endpoint_from_row(row) if row is not None else None


async def tenant_endpoints(conn: AsyncConnection, tenant_id: str) -> list[Endpoint]:
    """Every endpoint of the tenant, in id order."""
    result = await conn.execute(
        select(webhook_endpoints)
        .where(webhook_endpoints.c.tenant_id == tenant_id)
        .order_by(webhook_endpoints.c.id)
    )
    return [endpoint_from_row(row) for row in result.mappings()]


async def count_endpoints(conn: AsyncConnection, tenant_id: str) -> int:
    return int(
        await conn.scalar(
            select(func.count())
            .select_from(webhook_endpoints)
            .where(webhook_endpoints.c.tenant_id == tenant_id)
        )
        or 0
    )


async def insert_endpoint(conn: AsyncConnection, endpoint: Endpoint) -> None:
    """Store a new endpoint (its id must be new)."""
    values = asdict(endpoint)
    values["events"] = list(endpoint.events)
    values["filter"] = dict(endpoint.filter)
    await conn.execute(webhook_endpoints.insert().values(**values))


async def update_subscription(
    conn: AsyncConnection,
    endpoint_id: str,
    *,
    url: str,
    events: Iterable[str],
    filter: Mapping[str, Any],
    now: datetime,
) -> None:
    """Change where an endpoint sends and what it takes (messages already recorded stay as they are)."""
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(url=url, events=list(events), filter=dict(filter), updated_at=now)
    )


async def delete_endpoint(conn: AsyncConnection, tenant_id: str, endpoint_id: str) -> bool:
    """Delete the endpoint with its outbox and delivery log; False when the tenant has no such endpoint.
    The children are deleted explicitly: SQLite enforces the cascade only with its foreign-key pragma on."""
    owned = await conn.scalar(
        select(webhook_endpoints.c.id).where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.tenant_id == tenant_id
        )
    )
    if owned is None:
        return False
    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.endpoint_id == endpoint_id))
    await conn.execute(delete(webhook_messages).where(webhook_messages.c.endpoint_id == endpoint_id))
    await conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    return True


async def rotate_secret(
    conn: AsyncConnection,
    endpoint_id: str,
    *,
    signing: str,
    secret: str,
    public_key: str | None,
    previous_expires_at: datetime,
    now: datetime,
) -> None:
    """Make `secret` the endpoint's signing secret; the current one becomes the previous one, which also signs
    until `previous_expires_at` (a rotation during a grace period drops the older previous secret)."""
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(
            previous_secret=webhook_endpoints.c.secret,
            previous_public_key=webhook_endpoints.c.public_key,
            previous_expires_at=previous_expires_at,
            signing=signing,
            secret=secret,
            public_key=public_key,
            updated_at=now,
        )
    )


async def enable_endpoint(conn: AsyncConnection, endpoint_id: str, now: datetime) -> None:
    """Enable the endpoint: the failure clock starts again and its pending messages are due now (those that
    waited while it was disabled, and those backed off by failures that led to the disabling)."""
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(status=ENABLED, disabled_reason=None, disabled_at=None, failing_since=None, updated_at=now)
    )
    await conn.execute(
        update(webhook_messages)
        .where(webhook_messages.c.endpoint_id == endpoint_id, webhook_messages.c.status == PENDING)
        .values(next_attempt_at=now)
    )


async def disable_endpoint(conn: AsyncConnection, endpoint_id: str, reason: str, now: datetime) -> None:
    """Stop delivering to the endpoint (its messages are still recorded; enabling it sends them)."""
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(status=DISABLED, disabled_reason=reason, disabled_at=now, updated_at=now)
    )
