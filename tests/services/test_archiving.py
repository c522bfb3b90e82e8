"""`services.archiving`: the cut-off an operator gives, the schedule's due runs, the through-ledger frontier of
unfinished backfills, the processor choice, and cold retention (files older than `cold_retention_years` deleted
by the same run; 0 = rows deleted instead of archived, through the hooks and the watermark), on real ledgers
and both backends: a copy of the session's 20 ingested mainnet ledgers (`tests.mainnet_data`) where they are
archived, ingesting none where the rows do not matter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from core.errors import BadRequest
from processors.registry import default_registry
from services.archiving import (
    ArchiveReport,
    archive_tenant,
    backfill_frontier,
    due_run,
    parse_before,
    years_before,
)
from storage.backfill import processors_key
from storage.cold.archival import ArchiveCut
from storage.cold.store import ColdStore
from storage.db import create_engine
from storage.tables import backfill_ranges, utcnow
from storage.tenants import TenantStore
from tests.api.helpers import settings_for, sql
from tests.mainnet_data import MainnetData
from tests.services.tiers import FIRST, TENANT, document, load, reconfigure

LEDGERS = 4  # the first cut-off: ledgers before FIRST + LEDGERS are archived
ARCHIVED = {"token_transfers", "contract_events", "account_balances", "dex_trades", "contract_data"}


def test_before_is_a_ledger_or_an_iso_time() -> None:
    assert parse_before("63092990") == ArchiveCut(before_ledger=63092990)
    assert parse_before("2026-01-31T00:00:00Z") == ArchiveCut(before_time=datetime(2026, 1, 31, tzinfo=UTC))
    assert parse_before("2026-01-31T01:00:00+01:00") == ArchiveCut(
        before_time=datetime(2026, 1, 31, tzinfo=UTC)
    )
    assert parse_before("2026-01-31") == ArchiveCut(before_time=datetime(2026, 1, 31, tzinfo=UTC))
    outside = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")  # leave the calendar in UTC
    for bad in ("yesterday", "0", "-5", "99999999999", "", *outside):
        with pytest.raises(BadRequest) as caught:
            parse_before(bad)
        assert caught.value.message.startswith("before:"), bad


def test_a_schedule_is_due_from_its_time_for_an_hour() -> None:
    at_two = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    assert due_run("0 2 * * *", at_two + timedelta(seconds=50)) == at_two
    assert due_run("0 2 * * *", at_two + timedelta(minutes=59)) == at_two
    assert due_run("0 2 * * *", at_two + timedelta(minutes=61)) is None
    assert due_run("0 2 * * *", at_two - timedelta(minutes=1)) is None
    assert years_before(datetime(2028, 2, 29, tzinfo=UTC), 2) == datetime(2026, 2, 28, tzinfo=UTC)


async def _tenant(url: str, cold: Path, **storage: Any) -> tuple[Any, ColdStore, Any]:
    """The tenant of every processor in the copy at `url`, with these storage settings."""
    settings = settings_for(url, cold_url=str(cold))
    await reconfigure(url, document(**storage))
    engine = create_engine(url)
    record = await TenantStore(engine).get(TENANT)
    return engine, ColdStore.from_settings(settings), record


async def asql(url: str, statement: str, **params: Any) -> list[Any]:
    return await asyncio.to_thread(sql, url, statement, **params)


async def scalar(url: str, statement: str, **params: Any) -> Any:
    return (await asql(url, statement, **params))[0][0]


async def _marks(url: str) -> dict[str, int]:
    rows = await asql(
        url, "SELECT table_name, last_ledger FROM archive_watermarks WHERE tenant_id = :t", t=TENANT
    )
    return {str(t): int(ledger) for t, ledger in rows}


def _parquet(cold: Path) -> list[Path]:
    return list(cold.rglob("*.parquet"))


async def test_an_unfinished_backfill_holds_the_frontier(mainnet_db: MainnetData, tmp_path: Path) -> None:
    url = mainnet_db.url
    engine, store, record = await _tenant(url, tmp_path / "cold")
    now = utcnow()
    chunks = [  # (start, end, processors, status)
        (FIRST - 100, FIRST - 1, ["TokenTransferProcessor"], "done"),
        (FIRST + 2, FIRST + 3, ["TokenTransferProcessor", "DEXTradeProcessor"], "running"),
        (FIRST + 1, FIRST + 1, ["DEXTradeProcessor"], "failed"),
    ]
    async with engine.begin() as conn:
        for start, end, types, status in chunks:
            await conn.execute(
                insert(backfill_ranges).values(
                    tenant_id=TENANT,
                    start_ledger=start,
                    end_ledger=end,
                    processors_key=processors_key(types),
                    network="pubnet",
                    processors=types,
                    status=status,
                    ledgers_done=0,
                    ledgers_per_second=None,
                    attempts=1,
                    last_error=None,
                    created_at=now,
                    updated_at=now,
                )
            )
    try:
        assert await backfill_frontier(engine, TENANT, "TokenTransferProcessor") == FIRST + 1
        assert await backfill_frontier(engine, TENANT, "DEXTradeProcessor") == FIRST
        assert await backfill_frontier(engine, TENANT, "ContractEventProcessor") is None
        report = await archive_tenant(
            engine, store, default_registry(), record, cut=ArchiveCut(before_ledger=FIRST + LEDGERS)
        )
    finally:
        await store.close()
        await engine.dispose()
    marks = await _marks(url)
    # Ledgers an unfinished chunk may still write (and those after them) stay hot; the rest is archived.
    assert marks["token_transfers"] == FIRST + 1
    assert marks.get("dex_trades", FIRST) <= FIRST
    assert marks["contract_events"] == FIRST + LEDGERS - 1
    assert {t.table for t in report.tables} == ARCHIVED
    left = await scalar(
        url,
        "SELECT min(ledger_sequence) FROM token_transfers WHERE tenant_id = :t",
        t=TENANT,
    )
    assert left == FIRST + 2


async def test_retention_deletes_old_cold_files_in_the_same_run(
    mainnet_db: MainnetData, tmp_path: Path
) -> None:
    url = mainnet_db.url
    cold = tmp_path / "cold"
    engine, store, record = await _tenant(url, cold, cold_retention_years=2)
    try:
        first = await archive_tenant(
            engine, store, default_registry(), record, cut=ArchiveCut(before_ledger=FIRST + 2)
        )
        files = {str(p.relative_to(cold)) for p in _parquet(cold)}
        assert files and first.expired_files == 0
        newest = max(r[0] for r in await asql(url, "SELECT max_closed_at FROM cold_files"))
        newest = newest if isinstance(newest, datetime) else datetime.fromisoformat(str(newest))
        newest = newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest
        # Two years minus a day after the newest archived row: nothing has expired yet.
        kept = await archive_tenant(
            engine,
            store,
            default_registry(),
            record,
            cut=ArchiveCut(before_ledger=FIRST + 2),
            now=newest + timedelta(days=2 * 365 - 1),
        )
        assert kept.expired_files == 0 and {str(p.relative_to(cold)) for p in _parquet(cold)} == files
        # A day past two years: the same run that archives the remaining rows deletes every expired file.
        expired = await archive_tenant(
            engine, store, default_registry(), record, now=newest + timedelta(days=732)
        )
    finally:
        await store.close()
        await engine.dispose()
    assert isinstance(expired, ArchiveReport)
    assert sum(t.rows for t in expired.tables) > 0  # the rest was archived first (the default cut-off)
    assert expired.expired_files == len(files) + sum(len(t.files) for t in expired.tables)
    assert not _parquet(cold)
    assert await scalar(url, "SELECT count(*) FROM cold_files") == 0


async def test_zero_years_of_cold_retention_deletes_instead_of_archiving(
    mainnet_db: MainnetData, tmp_path: Path
) -> None:
    url = mainnet_db.url
    cold = tmp_path / "cold"
    engine, store, record = await _tenant(url, cold, cold_retention_years=0)
    before = await scalar(url, "SELECT count(*) FROM token_transfers WHERE tenant_id = :t", t=TENANT)
    kept = await scalar(
        url,
        "SELECT count(*) FROM token_transfers WHERE tenant_id = :t AND ledger_sequence >= :l",
        t=TENANT,
        l=FIRST + 2,
    )
    try:
        report = await archive_tenant(
            engine, store, default_registry(), record, cut=ArchiveCut(before_ledger=FIRST + 2)
        )
    finally:
        await store.close()
        await engine.dispose()
    assert report.dropped
    transfers = next(t for t in report.tables if t.table == "token_transfers")
    assert transfers.files == () and transfers.rows == 0 and transfers.deleted == before - kept > 0
    after = await scalar(url, "SELECT count(*) FROM token_transfers WHERE tenant_id = :t", t=TENANT)
    assert after == kept
    # No file; the watermarks moved past the deleted rows (derived sums folded them, as they fold archived ones).
    assert not _parquet(cold)
    marks = await _marks(url)
    assert "token_transfers" in marks and set(marks.values()) == {FIRST + 1}


async def test_a_processor_must_be_enabled(
    migrated_sqlite: str, shared_ledgers: Path, tmp_path: Path
) -> None:
    settings = settings_for(migrated_sqlite, cold_url=str(tmp_path / "cold"))
    doc = document()
    doc["customer"]["processors"] = [{"type": "TokenTransferProcessor", "enabled": True, "config": {}}]
    await load(migrated_sqlite, shared_ledgers, settings.pepper, doc, count=0)
    engine = create_engine(migrated_sqlite)
    store = ColdStore.from_settings(settings)
    try:
        record = await TenantStore(engine).get(TENANT)
        for name, why in (("dex_trades", "is not enabled"), ("no_such", "is not a processor")):
            with pytest.raises(BadRequest) as caught:
                await archive_tenant(engine, store, default_registry(), record, processor=name)
            assert caught.value.message.startswith(f"processor: '{name}' {why}")
            assert "token_transfers" in caught.value.message
    finally:
        await store.close()
        await engine.dispose()


async def test_one_run_per_tenant_at_a_time(migrated_db_url: str, tmp_path: Path) -> None:
    from services.archiving import ArchiveRunning, archive_lease
    from storage.leases import try_lease

    settings = settings_for(migrated_db_url, cold_url=str(tmp_path / "cold"))
    await load(migrated_db_url, Path("/nonexistent"), settings.pepper, document(), count=0)
    engine = create_engine(migrated_db_url)
    store = ColdStore.from_settings(settings)
    try:
        record = await TenantStore(engine).get(TENANT)
        async with try_lease(engine, archive_lease(TENANT)) as held:
            assert held
            with pytest.raises(ArchiveRunning) as caught:
                await archive_tenant(engine, store, default_registry(), record, lease_wait_seconds=0.2)
            assert caught.value.status == 409 and TENANT in caught.value.message
        report = await archive_tenant(engine, store, default_registry(), record)  # free again
        assert {t.table for t in report.tables} == ARCHIVED
    finally:
        await store.close()
        await engine.dispose()
