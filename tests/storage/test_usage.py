"""Usage counters on both backends: in-memory tallies, additive upserts, last use of keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import usage
from storage.api_keys import ApiKeyStore, IssuedKey
from storage.db import create_engine
from storage.tables import usage_counters
from storage.tenants import TenantStore
from storage.usage import UsageCounters, hour_bucket
from tests.storage.conflicts import commit_after_first_call, prepare


@pytest.fixture
async def issued(engine: AsyncEngine) -> IssuedKey:
    await TenantStore(engine).create("acme", "Acme", "pubnet", {})
    return await ApiKeyStore(engine, "pepper").create("acme")


async def test_counts_aggregate_across_flushes(engine: AsyncEngine, issued: IssuedKey) -> None:
    await TenantStore(engine).create("beta", "Beta", "pubnet", {"customer": {}})
    usage = UsageCounters(engine, flush_seconds=60)
    key_id = issued.key.id
    before = datetime.now(UTC)
    usage.record("gone", None, "rest")  # no such tenant (deleted): its tally is dropped, not written
    usage.record("acme", key_id, "rest")
    usage.record("acme", key_id, "rest")
    usage.record("acme", key_id, "graphql", n=5)
    usage.record("acme", None, "webhook")
    usage.record("beta", None, "rest")
    assert await usage.totals("acme") == {}  # nothing written before a flush
    assert await usage.flush() == 4

    usage.record("acme", key_id, "rest", n=3)
    usage.record("acme", key_id, "websocket")
    assert await usage.flush() == 2
    assert await usage.flush() == 0

    assert await usage.totals("acme") == {"rest": 5, "graphql": 5, "webhook": 1, "websocket": 1}
    assert await usage.totals("beta") == {"rest": 1}
    assert await usage.totals("gone") == {}
    assert await usage.totals("acme", since=before) == await usage.totals("acme")
    assert await usage.totals("acme", since=before + timedelta(hours=2)) == {}

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(usage_counters).where(
                    usage_counters.c.tenant_id == "acme", usage_counters.c.kind == "rest"
                )
            )
        ).all()
    # One row per (tenant, key, hour, kind), incremented in place (unless the hour turned mid-test).
    assert sum(row._mapping["count"] for row in rows) == 5 and len(rows) in (1, 2)
    assert all(row.key_id == key_id and row.bucket == hour_bucket(row.bucket) for row in rows)
    await usage.close()


async def test_last_used_at_updated(engine: AsyncEngine, issued: IssuedKey) -> None:
    keys = ApiKeyStore(engine, "pepper")
    assert issued.key.last_used_at is None
    usage = UsageCounters(engine, flush_seconds=60)
    usage.record("acme", issued.key.id, "rest")
    usage.record("acme", "key_deleted_meanwhile", "rest")  # unknown keys are ignored
    await usage.flush()
    first = (await keys.get(issued.key.id)).last_used_at  # type: ignore[union-attr]
    assert first is not None and first.tzinfo is not None
    await asyncio.sleep(0.01)
    usage.record("acme", issued.key.id, "graphql")
    await usage.flush()
    second = (await keys.get(issued.key.id)).last_used_at  # type: ignore[union-attr]
    assert second is not None and second > first


async def test_periodic_flush_and_close(engine: AsyncEngine, issued: IssuedKey) -> None:
    usage = UsageCounters(engine, flush_seconds=0.05)
    usage.start()
    usage.record("acme", issued.key.id, "rest")
    for _ in range(100):
        if await usage.totals("acme"):
            break
        await asyncio.sleep(0.02)
    assert await usage.totals("acme") == {"rest": 1}
    usage.record("acme", issued.key.id, "rest")
    await usage.close()
    assert await usage.totals("acme") == {"rest": 2}


def test_hour_bucket() -> None:
    moment = datetime(2025, 6, 1, 13, 47, 12, 5, tzinfo=UTC)
    assert hour_bucket(moment) == datetime(2025, 6, 1, 13, tzinfo=UTC)


async def test_a_commit_between_its_read_and_its_write_is_run_again(
    migrated_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the flush (which tenants still exist, then the counters) was refused at once when another
    writer committed in between, the audit log's flush on the same period: an error with its traceback every few
    flushes under light load (found by an attacker's pass). It now runs again; nothing is counted twice."""
    mine, other = create_engine(migrated_sqlite), create_engine(migrated_sqlite)
    try:
        await TenantStore(mine).create("acme", "Acme", "pubnet", {})
        await prepare(other)
        calls: list[int] = []
        monkeypatch.setattr(
            usage, "_alive_tenants", commit_after_first_call(usage._alive_tenants, other, calls)
        )
        counters = UsageCounters(mine, flush_seconds=60)
        counters.record("acme", None, "rest", 3)
        assert await counters.flush() == 1
        assert len(calls) == 2  # the refused run, then the one that committed
        assert await counters.totals("acme") == {"rest": 3}
    finally:
        await mine.dispose()
        await other.dispose()
