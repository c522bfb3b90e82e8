"""Delivery bookkeeping on the webhook tables: what is due, one attempt and its consequences, the sweep, pruning.

One delivery job per endpoint runs at a time (the `webhooks:<endpoint>` lease), so reading the due messages needs
no row locks: nobody else sends them meanwhile. An attempt is recorded with the message's new state and the
endpoint's failing/success bookkeeping in ONE transaction (`record_attempt`): a crash between the HTTP answer and
this commit leaves the message pending, and it is sent again with the same id (receivers deduplicate by
`webhook-id`). Both dialects (PostgreSQL, SQLite for the embedded mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.webhooks.tables import (
    DEAD,
    DELIVERED,
    DISABLED,
    ENABLED,
    PENDING,
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
)

SUCCESS, FAILURE = "success", "failure"
ERROR_CHARS = 500  # an error text longer than this is cut (the snippet column holds the answer's start)


@dataclass(frozen=True)
class DueMessage:
    """A pending message whose time has come: what the sender needs."""

    id: str
    ledger: int
    payload: str
    attempts: int


@dataclass(frozen=True)
class AttemptRecord:
    """The outcome of one HTTP attempt, and what it does to the message (`next_attempt_at` None + failure:
    dead)."""

    message_id: str
    endpoint_id: str
    started_at: datetime
    duration_ms: int
    status_code: int | None
    success: bool
    error: str | None
    response_snippet: str | None
    next_attempt_at: datetime | None  # failures only: when to try again (None: the message is dead)


def _pending_in_order(endpoint_id: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    m = webhook_messages.c
    # Ledger order first: the message ids group by event type, and a receiver of an ordered endpoint expects the
    # events of ledger N before those of ledger N+1 whatever their type; ties (one ledger) go in id order.
    return (m.endpoint_id == endpoint_id, m.status == PENDING), (m.ledger, m.id)


def _due(now: datetime) -> ColumnElement[bool]:
    m = webhook_messages.c
    return or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now)  # recorded without a time: due at once


async def due_messages(
    conn: AsyncConnection, endpoint_id: str, now: datetime, *, ordered: bool, limit: int
) -> list[DueMessage]:
    """The messages of `endpoint_id` to send now, at most `limit`. Ordered: the head of its pending messages (in
    ledger, then id, order) and those following it, up to the first one not due yet, and nothing when the head
    is not due (a head waiting for a retry holds the later ones back; dead messages are not pending and hold
    nothing): the caller sends them one by one and stops at the first failure. Unordered: due messages, oldest
    first."""
    m = webhook_messages.c
    where, order = _pending_in_order(endpoint_id)
    columns = (m.id, m.ledger, m.payload, m.attempts, m.next_attempt_at)
    if ordered:
        rows = await conn.execute(select(*columns).where(*where).order_by(*order).limit(limit))
        due: list[DueMessage] = []
        for row in rows:
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                break
            due.append(DueMessage(row.id, row.ledger, row.payload, row.attempts))
        return due
    rows = await conn.execute(select(*columns).where(*where, _due(now)).order_by(*order).limit(limit))
    return [DueMessage(r.id, r.ledger, r.payload, r.attempts) for r in rows]


async def next_due_at(conn: AsyncConnection, endpoint_id: str, *, ordered: bool) -> datetime | None:
    """When the endpoint next has something to send (ordered: its head's time), None when nothing is pending."""
    m = webhook_messages.c
    where, order = _pending_in_order(endpoint_id)
    if ordered:
        return await conn.scalar(select(m.next_attempt_at).where(*where).order_by(*order).limit(1))
    return await conn.scalar(select(func.min(m.next_attempt_at)).where(*where))


async def record_attempts(conn: AsyncConnection, attempts: Sequence[AttemptRecord]) -> None:
    """Log `attempts` (one endpoint's, in the order they were made) and move each message on (delivered;
    pending until `next_attempt_at`; or dead), and keep the endpoint's bookkeeping (`last_success_at`, and
    `failing_since`: the first failure since the last success). A few statements for the whole round, inside the
    caller's transaction."""
    if not attempts:
        return
    m, a = webhook_messages.c, webhook_attempts.c
    ids = [attempt.message_id for attempt in attempts]
    rows = await conn.execute(
        select(a.message_id, func.count()).where(a.message_id.in_(ids)).group_by(a.message_id)
    )
    previous: dict[str, int] = {str(message_id): int(count) for message_id, count in rows}
    counts: dict[str, int] = {}
    log_rows, message_rows = [], []
    for attempt in attempts:
        counts[attempt.message_id] = counts.get(attempt.message_id, previous.get(attempt.message_id, 0)) + 1
        error = attempt.error[:ERROR_CHARS] if attempt.error else None
        log_rows.append(
            {
                "message_id": attempt.message_id,
                "endpoint_id": attempt.endpoint_id,
                "attempt": counts[attempt.message_id],  # a replay continues the log's count
                "started_at": attempt.started_at,
                "duration_ms": attempt.duration_ms,
                "status_code": attempt.status_code,
                "outcome": SUCCESS if attempt.success else FAILURE,
                "error": error,
                "response_snippet": attempt.response_snippet,
            }
        )
        if attempt.success:
            status, next_at, delivered_at = DELIVERED, None, attempt.started_at
        else:
            status, next_at, delivered_at = (
                (DEAD if attempt.next_attempt_at is None else PENDING),
                attempt.next_attempt_at,
                None,
            )
        message_rows.append(
            {
                "mid": attempt.message_id,
                "new_status": status,
                "next_at": next_at,
                "delivered": delivered_at,
                "code": attempt.status_code,
                "err": error,
            }
        )
    await conn.execute(insert(webhook_attempts), log_rows)
    await conn.execute(
        update(webhook_messages)
        .where(m.id == bindparam("mid"))
        .values(
            attempts=m.attempts + 1,
            status=bindparam("new_status"),
            next_attempt_at=bindparam("next_at"),
            delivered_at=func.coalesce(bindparam("delivered", type_=m.delivered_at.type), m.delivered_at),
            last_status_code=bindparam("code"),
            last_error=bindparam("err"),
        )
        .execution_options(synchronize_session=False),
        message_rows,
    )
    await _endpoint_bookkeeping(conn, attempts)


async def _endpoint_bookkeeping(conn: AsyncConnection, attempts: Sequence[AttemptRecord]) -> None:
    e = webhook_endpoints.c
    endpoint_id = attempts[0].endpoint_id
    successes = [i for i, attempt in enumerate(attempts) if attempt.success]
    if successes:
        last = successes[-1]
        failures_after = [attempt for attempt in attempts[last + 1 :] if not attempt.success]
        await conn.execute(
            update(webhook_endpoints)
            .where(e.id == endpoint_id)
            .values(
                last_success_at=attempts[last].started_at,
                failing_since=failures_after[0].started_at if failures_after else None,
            )
        )
        return
    await conn.execute(
        update(webhook_endpoints)
        .where(e.id == endpoint_id, e.failing_since.is_(None))
        .values(failing_since=attempts[0].started_at)
    )


async def disable_endpoint(conn: AsyncConnection, endpoint_id: str, reason: str, now: datetime) -> bool:
    """Disable an enabled endpoint, saying why (the admin API shows `disabled_reason`); False if it was not
    enabled. Its messages stay pending: enabling it again delivers them."""
    e = webhook_endpoints.c
    result = await conn.execute(
        update(webhook_endpoints)
        .where(e.id == endpoint_id, e.status == ENABLED)
        .values(status=DISABLED, disabled_reason=reason, disabled_at=now, updated_at=now)
    )
    return bool(result.rowcount)


async def endpoints_due(conn: AsyncConnection, now: datetime, *, limit: int = 1000) -> list[str]:
    """Enabled endpoints with a pending message whose time has come (what the sweep wakes up), in id order."""
    m, e = webhook_messages.c, webhook_endpoints.c
    rows = await conn.execute(
        select(m.endpoint_id)
        .join(webhook_endpoints, e.id == m.endpoint_id)
        .where(m.status == PENDING, _due(now), e.status == ENABLED)
        .group_by(m.endpoint_id)
        .order_by(m.endpoint_id)
        .limit(limit)
    )
    return [row.endpoint_id for row in rows]


async def prune_messages(conn: AsyncConnection, before: datetime, *, batch: int = 5000) -> int:
    """Delete up to `batch` messages created before `before`, with their attempts; the number deleted (the
    sweep calls again while it is `batch`)."""
    m = webhook_messages.c
    ids: Sequence[str] = (
        await conn.scalars(select(m.id).where(m.created_at < before).order_by(m.created_at).limit(batch))
    ).all()
    if not ids:
        return 0
    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.message_id.in_(ids)))
    await conn.execute(delete(webhook_messages).where(m.id.in_(ids)))
    return len(ids)
