"""The router across tiers on a generic table: an archival that moves the watermark and deletes the hot rows
while a page is being read (between the router's first watermark read and its hot read) loses no row: the
router sees the watermark moved and reads again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.cold.archival import ArchiveCut, archive_table
from storage.cold.reader import ColdFile, ColdReader
from storage.cold.store import ColdStore
from storage.cold.watermarks import Watermark
from storage.query import Query, Row
from storage.router import QueryRouter
from tests.storage.cold.helpers import TENANT, without_tenant


class ArchivingMidRead(ColdReader):
    """A real reader whose first read runs a real archival of everything first: the worst moment for the
    router, after it read the watermark and before its hot read."""

    def __init__(self, store: ColdStore, engine: AsyncEngine, table: Table) -> None:
        super().__init__(store, engine)
        self.table = table
        self.fired = False

    async def fetch(
        self, query: Query, watermark: Watermark, files: list[ColdFile] | None = None
    ) -> tuple[list[Row], bool]:
        answer = await super().fetch(query, watermark, files)
        if not self.fired:
            self.fired = True
            await archive_table(
                self.engine, self.store, tenant_id=TENANT, processor="p", table=self.table, cut=ArchiveCut()
            )
        return answer


async def test_an_archival_during_a_read_loses_nothing(
    events: tuple[AsyncEngine, Table, list[dict[str, Any]]], tmp_path: Path
) -> None:
    engine, table, rows = events
    store = ColdStore.open(str(tmp_path / "cold"))
    await archive_table(
        engine, store, tenant_id=TENANT, processor="p", table=table, cut=ArchiveCut(before_ledger=105)
    )
    reader = ArchivingMidRead(store, engine, table)
    cold_reads: list[str] = []
    router = QueryRouter(engine, cold=reader, on_cold_read=cold_reads.append)
    try:
        page = await router.fetch(Query(TENANT, table, limit=200))
        assert reader.fired
        assert page.rows == without_tenant(rows) and not page.has_more
        assert page.sources == ("cold",)
        assert cold_reads == [TENANT]  # once per call, however many reads it took
    finally:
        await reader.close()
