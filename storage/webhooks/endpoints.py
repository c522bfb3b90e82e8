"""Reading webhook endpoints (`storage.webhooks.tables.webhook_endpoints`) as `Endpoint` records.

The ingest transaction reads the endpoints of a batch's tenants with `recording_endpoints` (on its own
connection, so an endpoint added or removed takes effect at a batch boundary: every batch committed after the
endpoint exists records its messages). Writes (create, delete, rotate, enable/disable) live next to these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.webhooks.tables import ENABLED, webhook_endpoints

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
