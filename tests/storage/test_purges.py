"""The purge's first transaction on SQLite, when another writer commits while it reads (the tenant's first
ingestion job, right after the tenant was created): it runs again instead of failing with `database_busy`."""

from __future__ import annotations

import pytest

from storage import purges
from storage.db import create_engine
from storage.purges import PurgeStore
from storage.tenants import TenantStore
from tests.storage.conflicts import commit_after_first_call, prepare

DOC = {"customer": {"id": "acme", "name": "Acme", "network": "pubnet", "processors": []}}


async def test_a_commit_between_its_reads_and_its_delete_is_run_again(
    migrated_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, other = create_engine(migrated_sqlite), create_engine(migrated_sqlite)
    try:
        await TenantStore(mine).create("acme", "Acme", "pubnet", DOC)
        await prepare(other)
        calls: list[int] = []
        monkeypatch.setattr(purges, "_count", commit_after_first_call(purges._count, other, calls))
        record = await PurgeStore(mine).start("acme", "admin")
        assert record is not None and record.tenant_id == "acme"
        assert len(calls) == 4  # two counts a run: the refused run, then the one that committed
        assert await TenantStore(mine).get("acme") is None
        assert (await PurgeStore(mine).get("acme")) is not None
    finally:
        await mine.dispose()
        await other.dispose()
