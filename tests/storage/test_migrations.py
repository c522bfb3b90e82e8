"""Migrations up, down and up again on both backends, wherever the process happens to run from."""

from __future__ import annotations

import re
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


def test_revisions_all_grow_from_the_foundation() -> None:
    """Processors add migration branches of their own; every one grows from the foundation revision."""
    from alembic.script import ScriptDirectory

    from storage.migrate import _config

    script = ScriptDirectory.from_config(_config())
    assert ",".join(sorted(script.get_heads())) == migrate.head_revision()
    revisions = list(script.walk_revisions())
    assert [r.revision for r in revisions if r.down_revision is None] == ["0001_foundation"]
    assert len({r.revision for r in revisions}) == len(revisions)


async def test_migrated_schema_matches_the_table_registry(db_url: str) -> None:
    """The processor tables as the code describes them are exactly what the migrations create."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import processors.registry
    from storage.tables import metadata

    processors.registry.default_registry()  # imports every processor's tables into the metadata
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()

    def table_of(entry: object) -> str:
        item = entry[0] if isinstance(entry, list) else entry
        part = item[1] if isinstance(item, tuple) and item[0].endswith("_table") else item[-1]
        if isinstance(item, tuple) and item[0].endswith("_column"):
            return str(item[2])
        return str(getattr(getattr(part, "table", None), "name", None) or getattr(part, "name", ""))

    # Partitions (monthly and default) exist only in the database, and audit_log's PostgreSQL layout lives in
    # its migration alone: neither is described by the registry.
    relevant = [d for d in diff if not re.search(r"^audit_log|_p\d{6}$|_default$", table_of(d))]
    assert relevant == []


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
