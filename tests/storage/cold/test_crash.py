"""Crash safety of `archive_table`: the process SIGKILLed inside a file's watermark transaction (after files
were written), and again after the first batch of hot deletions; at each point and after a rerun, every row is
read exactly once through the router, no file outside the manifest is read, and the rerun leaves no orphan."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.cold.reader import ColdReader
from storage.cold.store import ColdStore
from storage.cold.tables import cold_files
from storage.query import Query
from storage.router import QueryRouter
from tests.storage.cold.helpers import TENANT, hot_rows, without_tenant

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = """
import asyncio, os, signal, sys
from storage.cold.archival import ArchiveCut, archive_table
from storage.cold.store import ColdStore
from storage.db import create_engine
from tests.storage.cold.helpers import TENANT, events_table

url, cold, die_at = sys.argv[1:4]
calls = {"archived": 0, "deleted": 0}

async def on_archived(conn, rows):
    calls["archived"] += 1
    if die_at == "archived" and calls["archived"] == 2:  # the second file's transaction, still open
        os.kill(os.getpid(), signal.SIGKILL)

async def on_deleted(total):
    if die_at == "deleted":  # after the first delete batch committed
        os.kill(os.getpid(), signal.SIGKILL)

async def main():
    engine = create_engine(url)
    await archive_table(
        engine, ColdStore.open(cold), tenant_id=TENANT, processor="p", table=events_table(), cut=ArchiveCut(),
        on_archived=on_archived, on_deleted=on_deleted, max_file_rows=13, delete_batch_rows=5,
    )
    await engine.dispose()

asyncio.run(main())
"""


def run_archival(url: str, cold: Path, die_at: str) -> int:
    done = subprocess.run(  # noqa: S603 - this test's own script
        [sys.executable, "-c", SCRIPT, url, str(cold), die_at],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()[-2000:]
    return done.returncode


async def read_everything(router: QueryRouter, table: Table, descending: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    query: Query | None = Query(TENANT, table, limit=4, descending=descending)
    while query is not None:
        page = await router.fetch(query)
        rows.extend(page.rows)
        query = page.next_query()
    return rows


async def manifest_keys(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(cold_files.c.key))).scalars())


@pytest.mark.parametrize("die_at", ["archived", "deleted"])
async def test_a_killed_archival_loses_and_duplicates_nothing(
    events: tuple[AsyncEngine, Table, list[dict[str, Any]]], migrated_db_url: str, tmp_path: Path, die_at: str
) -> None:
    engine, table, rows = events
    expected = without_tenant(rows)
    cold = tmp_path / "cold"
    store = ColdStore.open(str(cold))
    reader = ColdReader(store, engine)
    router = QueryRouter(engine, cold=reader)
    try:
        assert run_archival(migrated_db_url, cold, die_at) == -signal.SIGKILL
        objects = {o.key for o in await store.list(store.tenant_prefix(TENANT))}
        recorded = await manifest_keys(engine)
        if die_at == "archived":
            assert len(recorded) == 1 and len(objects) == 2  # the second file written, never recorded
            assert len(await hot_rows(engine, table, TENANT)) == len(rows)
        else:
            assert objects == recorded and len(recorded) == 6
            assert len(await hot_rows(engine, table, TENANT)) == len(rows) - 5
        assert await read_everything(router, table, False) == expected
        assert await read_everything(router, table, True) == expected[::-1]
        assert await router.count(Query(TENANT, table), 10**6) == (len(rows), True)

        assert run_archival(migrated_db_url, cold, "never") == 0
        assert await read_everything(router, table, False) == expected
        assert await hot_rows(engine, table, TENANT) == []
        recorded = await manifest_keys(engine)
        assert {o.key for o in await store.list(store.tenant_prefix(TENANT))} == recorded
        assert len(recorded) == 6
    finally:
        await reader.close()
