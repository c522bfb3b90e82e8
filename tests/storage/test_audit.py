"""The audit log on both backends: buffering, immediate mode, queries, shutdown, transient failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.audit import AuditEntry, AuditLog
from storage.tables import audit_log


async def stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(audit_log))).scalar_one())


def entry(action: str = "auth.accepted", tenant_id: str | None = "acme", **fields: object) -> AuditEntry:
    return AuditEntry(action=action, actor="api_key", tenant_id=tenant_id, **fields)  # type: ignore[arg-type]


async def test_buffered_until_flush(engine: AsyncEngine) -> None:
    audit = AuditLog(engine, flush_seconds=60)
    for _ in range(3):
        await audit.record(entry())
    assert await stored(engine) == 0
    assert await audit.flush() == 3
    assert await stored(engine) == 3
    assert await audit.flush() == 0


async def test_immediate_mode(engine: AsyncEngine) -> None:
    audit = AuditLog(engine, flush_seconds=0)
    audit.start()  # no task in immediate mode
    await audit.record(
        entry(
            key_prefix="ofk_abcdefgh",
            method="GET",
            path="/api/v1/acme/graphql",
            status=200,
            client_ip="10.0.0.1",
            detail={"reason": "ok", "n": 1},
        )
    )
    [row] = await audit.query()
    assert row["action"] == "auth.accepted" and row["actor"] == "api_key"
    assert (
        row["tenant_id"],
        row["key_prefix"],
        row["method"],
        row["path"],
        row["status"],
        row["client_ip"],
    ) == (
        "acme",
        "ofk_abcdefgh",
        "GET",
        "/api/v1/acme/graphql",
        200,
        "10.0.0.1",
    )
    assert row["detail"] == {"reason": "ok", "n": 1}
    assert row["created_at"].tzinfo is not None and isinstance(row["id"], int)
    await audit.close()


async def test_query_filters_and_order(engine: AsyncEngine) -> None:
    audit = AuditLog(engine, flush_seconds=60)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    await audit.record(entry("auth.accepted", "acme", created_at=base))
    await audit.record(entry("auth.refused", "acme", created_at=base + timedelta(minutes=1)))
    await audit.record(entry("auth.accepted", "beta", created_at=base + timedelta(minutes=2)))
    await audit.record(
        AuditEntry(action="tenant.created", actor="admin", created_at=base + timedelta(minutes=3))
    )
    await audit.flush()

    assert [r["action"] for r in await audit.query()] == [
        "tenant.created",
        "auth.accepted",
        "auth.refused",
        "auth.accepted",
    ]
    assert [r["action"] for r in await audit.query(tenant_id="acme")] == ["auth.refused", "auth.accepted"]
    assert [r["tenant_id"] for r in await audit.query(action="auth.accepted")] == ["beta", "acme"]
    assert len(await audit.query(tenant_id="acme", action="auth.refused")) == 1
    assert len(await audit.query(limit=2)) == 2
    assert await audit.query(tenant_id="nobody") == []


async def test_periodic_flush_and_close(engine: AsyncEngine) -> None:
    audit = AuditLog(engine, flush_seconds=0.05)
    audit.start()
    await audit.record(entry())
    for _ in range(100):
        if await stored(engine) == 1:
            break
        await asyncio.sleep(0.02)
    assert await stored(engine) == 1

    slow = AuditLog(engine, flush_seconds=3600)
    slow.start()
    await slow.record(entry("key.revoked"))
    await slow.close()  # stops the timer and writes what is left
    assert await stored(engine) == 2
    await audit.close()


async def test_failed_flush_keeps_entries(engine: AsyncEngine) -> None:
    audit = AuditLog(engine, flush_seconds=60)
    await audit.record(entry("auth.accepted"))
    async with engine.begin() as conn:  # a real failure: the table is briefly not there
        await conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        with pytest.raises(DBAPIError):
            await audit.flush()
        await audit.record(entry("auth.refused"))
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    assert await audit.flush() == 2
    assert [r["action"] for r in await audit.query()] == ["auth.refused", "auth.accepted"]


async def test_immediate_mode_survives_a_failure(engine: AsyncEngine) -> None:
    audit = AuditLog(engine, flush_seconds=0)
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_away"))
    try:
        await audit.record(entry())  # logged, not raised: the request being audited goes on
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    await audit.close()
    assert await stored(engine) == 1
