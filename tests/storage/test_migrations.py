"""Migrations up, down and up again on both backends, wherever the process happens to run from."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.db import create_engine

FOUNDATION = {"tenants", "api_keys", "checkpoints", "audit_log", "usage_counters"}


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    # PostgreSQL lists partitions as tables too; only the parents matter here.
    return {name for name in names if "_p2" not in name and not name.endswith("_default")}


async def has_partition_function(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM pg_proc WHERE proname = 'obsrvr_ensure_monthly_partitions'")
        )
        return bool(found.scalar_one())


def test_head_revision_is_readable() -> None:
    assert migrate.head_revision() == "0001_foundation"


async def test_upgrade_downgrade_upgrade(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the scripts are found through the package, not the current directory
    engine = create_engine(db_url)
    postgres = engine.dialect.name == "postgresql"
    try:
        assert await migrate.current_revision(engine) is None
        assert not await migrate.is_at_head(engine)

        await migrate.upgrade(engine)
        assert FOUNDATION <= await table_names(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert await migrate.is_at_head(engine)
        if postgres:
            assert await has_partition_function(engine)

        await migrate.downgrade(engine)
        assert not FOUNDATION & await table_names(engine)
        assert await migrate.current_revision(engine) is None
        assert not await migrate.is_at_head(engine)
        if postgres:
            assert not await has_partition_function(engine)

        await migrate.upgrade(engine)
        assert FOUNDATION <= await table_names(engine)
        assert await migrate.is_at_head(engine)
        await migrate.upgrade(engine)  # already at head: nothing to do, no error
        assert await migrate.is_at_head(engine)
    finally:
        await engine.dispose()


async def test_audit_log_is_partitioned_on_postgresql(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            key = await conn.execute(
                text(
                    "SELECT pg_get_partkeydef('audit_log'::regclass),"
                    " (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_audit_log')"
                )
            )
            partition_key, primary_key = key.one()
        assert partition_key == "RANGE (created_at)"
        assert primary_key == "PRIMARY KEY (id, created_at)"
    finally:
        await engine.dispose()
