"""The purge's first transaction on SQLite, when another writer commits while it reads (the tenant's first
ingestion job, right after the tenant was created): it runs again instead of failing with `database_busy`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from storage import purges
from storage.db import create_engine
from storage.purges import PurgeStore
from storage.tenants import TenantStore

DOC = {"customer": {"id": "acme", "name": "Acme", "network": "pubnet", "processors": []}}


async def test_a_commit_between_its_reads_and_its_delete_is_run_again(
    migrated_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = create_engine(migrated_sqlite), create_engine(migrated_sqlite)
    try:
        await TenantStore(mine).create("acme", "Acme", "pubnet", DOC)
        async with other.begin() as conn:
            await conn.execute(text("CREATE TABLE elsewhere (x INTEGER)"))
        counted = purges._count
        calls: list[int] = []

        async def count_then_let_another_writer_commit(*args: Any) -> int:
            calls.append(1)
            found = await counted(*args)
            if len(calls) == 1:  # the first attempt only: its snapshot is then older than the last commit
                async with other.begin() as conn:
                    await conn.execute(text("INSERT INTO elsewhere VALUES (1)"))
            return found

        monkeypatch.setattr(purges, "_count", count_then_let_another_writer_commit)
        record = await PurgeStore(mine).start("acme", "admin")
        assert record is not None and record.tenant_id == "acme"
        assert len(calls) == 4  # two counts a run: the refused run, then the one that committed
        assert await TenantStore(mine).get("acme") is None
        assert (await PurgeStore(mine).get("acme")) is not None
    finally:
        await mine.dispose()
        await other.dispose()
