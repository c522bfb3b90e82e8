"""Issue 13, "what it must show": on the 20 mainnet ledgers, on PostgreSQL and SQLite, every listing of every
processor (GraphQL and REST, both orders, every filter kind, small pages across the cut-off), the derived answers,
capped counts and `obsrvr-flow export` give exactly the answers they gave before archival, with the right
`data_sources`: once the ledgers before the middle of the range are archived, and again once all are (then
`["cold"]` only). Each archival is first killed (SIGKILL) where it could lose or repeat rows, after writing a file
and in the middle of the hot deletion, and the answers in between are checked too; the run after the kill
finishes the work. Each backend's run reads a copy of the session's ingested ledgers (`tests.mainnet_data`);
archival by the services function, the last one by the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Settings
from obsrvr_flow.cli import app
from obsrvr_flow.wiring import build_app
from processors.registry import default_registry
from storage.cold.archival import ArchiveCut
from storage.cold.watermarks import read_watermarks
from storage.db import create_engine
from tests.api.helpers import settings_for, sql
from tests.mainnet_data import MainnetData
from tests.servers import spawn_cli, stop_process, wait_until
from tests.services.tiers import (
    LAST,
    MID,
    TENANT,
    archive,
    assert_same,
    assert_sources,
    collect,
    document,
    export_all,
    reconfigure,
    samples,
)

# Minutes long (every answer three times on both backends):
# started first under pytest-xdist, see tests/parallel.py `order_files`.
pytestmark = pytest.mark.heavy(515)
ARCHIVED_TABLES = {t.name for p in default_registry() for t in p.archive}


@dataclass
class Tiers:
    settings: Settings
    key: str
    client: TestClient
    env: dict[str, str]


@pytest.fixture
def tiers(mainnet_db: MainnetData, tmp_path: Path) -> Iterator[Tiers]:
    """Both backends: the test's copy of the ingested ledgers, its cold tier under `tmp_path`, an app on it and
    the environment of a CLI process on it."""
    # The tenant as `tiers.document` has it: responses never cached, so every answer shows its own sources.
    asyncio.run(reconfigure(mainnet_db.url, document()))
    settings = settings_for(mainnet_db.url, cold_url=str(tmp_path / "cold"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")},
        "OBSRVR_DATABASE_URL": mainnet_db.url,
        "OBSRVR_KEY_PEPPER": settings.pepper,
        "OBSRVR_COLD_URL": settings.cold_url,
    }
    with TestClient(build_app(settings)) as client:
        yield Tiers(settings, mainnet_db.keys["full"], client, env)


async def _archive(settings: Settings, cut: ArchiveCut) -> None:
    await archive(settings, TENANT, cut)


async def _watermarks(settings: Settings) -> dict[str, str]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return {table: mark.last_id for table, mark in (await read_watermarks(conn, TENANT)).items()}
    finally:
        await engine.dispose()


# The services function in a process of its own, killed (SIGKILL, by itself) once the first file of token
# transfers is written and verified, inside the transaction that would record it and move the watermark.
KILLED_BEFORE_WATERMARK = """
import asyncio, os, signal
from core.settings import Settings
from processors.registry import default_registry
from storage.cold.archival import ArchiveCut, archive_table
from storage.cold.store import ColdStore
from storage.db import create_engine

async def die(conn, rows):
    os.kill(os.getpid(), signal.SIGKILL)

async def main():
    settings = Settings()
    table = default_registry().by_name("token_transfers").archive[0]
    await archive_table(
        create_engine(settings.database_url), ColdStore.from_settings(settings), tenant_id=%r,
        processor="token_transfers", table=table, cut=ArchiveCut(before_ledger=%d), on_archived=die,
    )

asyncio.run(main())
"""


def _count(url: str, table: str) -> int:
    return int(sql(url, f'SELECT count(*) FROM "{table}" WHERE tenant_id = :t', t=TENANT)[0][0])


def _cold_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")}


def test_every_answer_is_the_same_before_and_after_archival_killed_or_not(tiers: Tiers) -> None:
    url, cold = tiers.settings.database_url, Path(tiers.settings.cold_url)
    rows_of = samples(url)
    before = collect(tiers.client, tiers.key, rows_of, tiers.env)
    assert_sources(before, {})
    hot_transfers = _count(url, "token_transfers")

    # Killed after writing a file, before the watermark moves: the file is an orphan, nothing moved.
    died = subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", KILLED_BEFORE_WATERMARK % (TENANT, MID)], env=tiers.env, check=False
    )
    assert died.returncode == -signal.SIGKILL
    assert _cold_files(cold), "the run wrote its file before it died"
    assert sql(url, "SELECT count(*) FROM cold_files")[0][0] == 0
    assert sql(url, "SELECT count(*) FROM archive_watermarks")[0][0] == 0
    assert _count(url, "token_transfers") == hot_transfers
    assert export_all(tiers.env) == before.bodies["export"]

    # The ledgers before the middle, by the services function: the orphan is swept.
    asyncio.run(_archive(tiers.settings, ArchiveCut(before_ledger=MID)))
    manifest = {row[0] for row in sql(url, "SELECT key FROM cold_files")}
    assert manifest and _cold_files(cold) == manifest
    marks = asyncio.run(_watermarks(tiers.settings))
    assert set(marks) == ARCHIVED_TABLES
    for table in ARCHIVED_TABLES:  # the watermark is the last row before the cut-off
        below = [r["id"] for r in rows_of[table] if r["ledger_sequence"] < MID]
        assert marks[table] == max(below), table
    middle = collect(tiers.client, tiers.key, rows_of, tiers.env)
    assert_same(before, middle)
    assert_sources(middle, marks)

    # Everything, by the CLI in a process of its own, killed in the middle of the hot deletion (one row per
    # transaction: seconds of deleting).
    left = _count(url, "token_transfers")
    process = spawn_cli(
        ["archive", "--tenant", TENANT, "--before", str(LAST + 1)],
        {**tiers.env, "OBSRVR_ARCHIVE_DELETE_BATCH_ROWS": "1"},
        cold.parent / "archive.log",
    )
    try:
        wait_until(lambda: 0 < _count(url, "token_transfers") < left - 10, 120, "the hot deletion to start")
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        stop_process(process)
    remaining = _count(url, "token_transfers")
    assert 0 < remaining < left, "killed in the middle of the deletion"
    # Rows at or below the watermark that linger hot are never read twice.
    assert export_all(tiers.env) == before.bodies["export"]

    # The CLI again finishes the run.
    result = CliRunner().invoke(
        app, ["archive", "--tenant", TENANT, "--before", str(LAST + 1)], env=tiers.env
    )
    assert result.exit_code == 0, result.output
    for table in ARCHIVED_TABLES:
        assert f".{table}: " in result.stdout, result.stdout
    assert _count(url, "token_transfers") == 0
    manifest = {row[0] for row in sql(url, "SELECT key FROM cold_files")}
    assert _cold_files(cold) == manifest
    marks = asyncio.run(_watermarks(tiers.settings))
    for table in ARCHIVED_TABLES:
        assert marks[table] == max(r["id"] for r in rows_of[table]), table
    everything = collect(tiers.client, tiers.key, rows_of, tiers.env)
    assert_same(before, everything)
    assert_sources(everything, marks, everything=True)
