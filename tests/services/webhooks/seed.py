"""Endpoints and outbox rows written straight into the webhook tables, for tests of delivery on its own (the
recorder's messages come in the end-to-end tests), and a clock the test moves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.webhooks.signing import new_secret
from storage.tables import tenants
from storage.webhooks.tables import ENABLED, HMAC, PENDING, webhook_endpoints, webhook_messages

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """The injected clock: `advance` moves it, nothing sleeps."""

    at: datetime = START

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


async def add_tenant(engine: AsyncEngine, tenant_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(tenants).values(
                id=tenant_id, name=tenant_id, network="pubnet", config={}, created_at=START, updated_at=START
            )
        )


async def add_endpoint(
    engine: AsyncEngine,
    tenant_id: str,
    url: str,
    *,
    endpoint_id: str | None = None,
    ordered: bool = True,
    max_concurrency: int = 1,
    secret: str | None = None,
    previous_secret: str | None = None,
    previous_expires_at: datetime | None = None,
    signing: str = HMAC,
) -> tuple[str, str]:
    """An enabled endpoint (hmac unless `signing` says); (id, secret)."""
    endpoint_id = endpoint_id or f"ep_{tenant_id}"
    public_key = None
    if secret is None:
        secret, public_key = new_secret(signing)
    async with engine.begin() as conn:
        await conn.execute(
            insert(webhook_endpoints).values(
                id=endpoint_id,
                tenant_id=tenant_id,
                url=url,
                events=["token_transfer"],
                filter={},
                description=None,
                signing=signing,
                secret=secret,
                public_key=public_key,
                previous_secret=previous_secret,
                previous_public_key=None,
                previous_expires_at=previous_expires_at,
                ordered=ordered,
                max_concurrency=max_concurrency,
                source="api",
                status=ENABLED,
                created_at=START,
                updated_at=START,
            )
        )
    return endpoint_id, secret


def message_id(endpoint_id: str, row: int) -> str:
    return f"msg_{endpoint_id}_token_transfer_{row:012d}"


async def add_messages(
    engine: AsyncEngine,
    endpoint_id: str,
    tenant_id: str,
    rows: Sequence[int],
    *,
    at: datetime = START,
    ledger_of: Any = None,
) -> list[str]:
    """Pending messages for rows `rows` (ledger = row // 10 unless `ledger_of(row)` says), due at `at`."""
    values = []
    for row in rows:
        ledger = ledger_of(row) if ledger_of else 50_000_000 + row // 10
        mid = message_id(endpoint_id, row)
        payload = {
            "event_id": mid,
            "event_type": "token_transfer",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "tenant_id": tenant_id,
            "ledger_sequence": ledger,
            "transaction_hash": None,
            "row_id": str(row),
            "data": {"amount": str(row)},
        }
        values.append(
            {
                "id": mid,
                "endpoint_id": endpoint_id,
                "tenant_id": tenant_id,
                "event_type": "token_transfer",
                "row_id": f"{row:012d}",
                "ledger": ledger,
                "closed_at": at,
                "payload": orjson.dumps(payload).decode(),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(webhook_messages), values)
    return [v["id"] for v in values]


async def statuses(engine: AsyncEngine, endpoint_id: str) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(webhook_messages.c.id, webhook_messages.c.status).where(
                webhook_messages.c.endpoint_id == endpoint_id
            )
        )
        return {r.id: r.status for r in rows}


async def endpoint_row(engine: AsyncEngine, endpoint_id: str) -> Any:
    async with engine.connect() as conn:
        return (
            (await conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)))
            .mappings()
            .one()
        )
