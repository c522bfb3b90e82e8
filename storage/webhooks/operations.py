"""What operators see and do with an endpoint's messages: the delivery log, dead letters, resend and replay, and
the backlog (pending messages and the age of the oldest) per endpoint.

Resend and replay put messages back to ``pending`` with ``attempts`` 0 and ``next_attempt_at`` now: the same ids
and the same bytes are sent again (the payload was fixed at recording), and the delivery log keeps the earlier
attempts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.webhooks.tables import (
    DEAD,
    DELIVERED,
    PENDING,
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
)

MESSAGE_FIELDS = (
    "id",
    "event_type",
    "row_id",
    "ledger",
    "closed_at",
    "status",
    "attempts",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "created_at",
    "delivered_at",
)


@dataclass(frozen=True)
class Backlog:
    """An endpoint's undelivered messages: how many are pending and dead, and when the oldest pending one was
    recorded (None when none is pending)."""

    endpoint_id: str
    tenant_id: str
    pending: int
    dead: int
    oldest_pending_at: datetime | None

    def age_seconds(self, now: datetime) -> float:
        """Seconds since the oldest pending message was recorded (0 when none is pending)."""
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending_at).total_seconds())


async def backlogs(conn: AsyncConnection, endpoint_ids: Iterable[str] | None = None) -> dict[str, Backlog]:
    """The backlog of each endpoint that has pending or dead messages (of `endpoint_ids`, or all)."""
    m = webhook_messages.c
    query = (
        select(
            m.endpoint_id,
            m.tenant_id,
            m.status,
            func.count().label("n"),
            func.min(m.created_at).label("oldest"),
        )
        .where(m.status.in_((PENDING, DEAD)))
        .group_by(m.endpoint_id, m.tenant_id, m.status)
    )
    if endpoint_ids is not None:
        query = query.where(m.endpoint_id.in_(sorted(set(endpoint_ids))))
    found: dict[str, dict[str, Any]] = {}
    for row in (await conn.execute(query)).mappings():
        entry = found.setdefault(
            row["endpoint_id"], {"tenant_id": row["tenant_id"], PENDING: 0, DEAD: 0, "oldest": None}
        )
        entry[row["status"]] = int(row["n"])
        if row["status"] == PENDING:
            entry["oldest"] = _aware(row["oldest"])
    return {
        endpoint_id: Backlog(endpoint_id, e["tenant_id"], e[PENDING], e[DEAD], e["oldest"])
        for endpoint_id, e in found.items()
    }


async def every_backlog(conn: AsyncConnection) -> list[Backlog]:
    """The backlog of every endpoint, zeros included (the metrics: a series that drops to 0 stays), by id."""
    e = webhook_endpoints.c
    found = await backlogs(conn)
    owners = (await conn.execute(select(e.id, e.tenant_id).order_by(e.id))).all()
    return [found.get(id_) or Backlog(id_, tenant_id, 0, 0, None) for id_, tenant_id in owners]


async def delivery_log(
    conn: AsyncConnection, endpoint_id: str, *, limit: int, message_id: str | None = None
) -> list[dict[str, Any]]:
    """The endpoint's latest attempts, newest first (of one message when `message_id` is given)."""
    a, m = webhook_attempts.c, webhook_messages.c
    query = (
        select(
            a.id,
            a.message_id,
            m.event_type,
            a.attempt,
            a.started_at,
            a.duration_ms,
            a.status_code,
            a.outcome,
            a.error,
            a.response_snippet,
        )
        .join(webhook_messages, m.id == a.message_id)
        .where(a.endpoint_id == endpoint_id)
        .order_by(a.id.desc())
        .limit(limit)
    )
    if message_id is not None:
        query = query.where(a.message_id == message_id)
    return [dict(row) for row in (await conn.execute(query)).mappings()]


def _messages(endpoint_id: str) -> Select[Any]:
    return select(*(webhook_messages.c[name] for name in MESSAGE_FIELDS)).where(
        webhook_messages.c.endpoint_id == endpoint_id
    )


async def dead_letters(
    conn: AsyncConnection, endpoint_id: str, *, limit: int, after: str | None = None
) -> list[dict[str, Any]]:
    """The endpoint's dead messages in id order, from after `after` (a message id) when given."""
    query = _messages(endpoint_id).where(webhook_messages.c.status == DEAD)
    if after is not None:
        query = query.where(webhook_messages.c.id > after)
    query = query.order_by(webhook_messages.c.id).limit(limit)
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def message(conn: AsyncConnection, endpoint_id: str, message_id: str) -> dict[str, Any] | None:
    """One message of the endpoint with its payload, or None."""
    query = select(*(webhook_messages.c[name] for name in (*MESSAGE_FIELDS, "payload"))).where(
        webhook_messages.c.endpoint_id == endpoint_id, webhook_messages.c.id == message_id
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row is not None else None


def _requeued(now: datetime) -> dict[str, Any]:
    return {
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_at": None,
        "last_status_code": None,
        "last_error": None,
    }


async def resend(conn: AsyncConnection, endpoint_id: str, message_id: str, now: datetime) -> bool:
    """Send one message again (whatever its status); False when the endpoint has no such message."""
    result = await conn.execute(
        update(webhook_messages)
        .where(webhook_messages.c.endpoint_id == endpoint_id, webhook_messages.c.id == message_id)
        .values(**_requeued(now))
    )
    return bool(result.rowcount)


async def replay(
    conn: AsyncConnection,
    endpoint_id: str,
    *,
    now: datetime,
    since_ledger: int | None = None,
    since_time: datetime | None = None,
    only_dead: bool = False,
) -> int:
    """Send again every delivered and dead message (only the dead ones with `only_dead`) of the endpoint from
    ledger `since_ledger` or ledger close time `since_time` on; returns how many. Pending messages are left as
    they are: they are being sent already."""
    m = webhook_messages.c
    query = update(webhook_messages).where(
        m.endpoint_id == endpoint_id, m.status.in_((DEAD,) if only_dead else (DEAD, DELIVERED))
    )
    if since_ledger is not None:
        query = query.where(m.ledger >= since_ledger)
    if since_time is not None:
        query = query.where(m.closed_at >= since_time)
    result = await conn.execute(query.values(**_requeued(now)))
    return int(result.rowcount or 0)


def _aware(value: Any) -> datetime | None:
    # An aggregate's result skips the column type's processor on SQLite (naive text or datetime): read as UTC.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
