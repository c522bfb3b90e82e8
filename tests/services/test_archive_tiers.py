"""Issue 13, "what it must show": on the 20 mainnet ledgers, on PostgreSQL and SQLite, every listing of every
processor (GraphQL and REST, both orders, every filter kind, small pages across the cut-off), the derived answers,
capped counts and `obsrvr-flow export` give exactly the answers they gave before archival, with the right
`data_sources`: once the ledgers before the middle of the range are archived, and again once all are (then
`["cold"]` only). One ingestion per backend (a database of this module's own); archival by the services
function, the last one by the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
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
from services.archiving import archive_tenant
from storage.cold.archival import ArchiveCut
from storage.cold.store import ColdStore
from storage.cold.watermarks import read_watermarks
from storage.db import create_engine
from storage.tenants import TenantStore
from tests.api.helpers import settings_for, sql
from tests.conftest import SHARED_LEDGERS, pg_database, pg_database_url
from tests.servers import CLI, spawn_cli, stop_process, wait_until
from tests.services.tiers import (
    LAST,
    MID,
    TENANT,
    assert_same,
    assert_sources,
    collect,
    document,
    export_all,
    load,
    samples,
)

ARCHIVED_TABLES = {t.name for p in default_registry() for t in p.archive}


@dataclass(frozen=True)
class Loaded:
    """The 20 ledgers ingested once per backend: a PostgreSQL database used as a template, a SQLite file."""

    pg_template: str
    sqlite_file: Path
    keys: dict[str, str]  # backend -> the secret of a read:* key


@dataclass
class Tiers:
    settings: Settings
    key: str
    client: TestClient
    env: dict[str, str]


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, pg_template: str
) -> Iterator[Loaded]:
    if not (SHARED_LEDGERS / "wallet-backend").is_dir():
        pytest.skip(
            f"real ledger corpus not found at {SHARED_LEDGERS} (it lives beside the project, in ../shared)"
        )
    sqlite_file = tmp_path_factory.mktemp("tiers-loaded") / "loaded.db"
    shutil.copyfile(sqlite_template, sqlite_file)
    pepper = settings_for(f"sqlite+aiosqlite:///{sqlite_file}").pepper
    with pg_database("obsrvr_test_tiers_loaded", template=pg_template) as name:
        keys = {
            "postgresql": asyncio.run(load(pg_database_url(name), SHARED_LEDGERS, pepper, document())),
            "sqlite": asyncio.run(
                load(f"sqlite+aiosqlite:///{sqlite_file}", SHARED_LEDGERS, pepper, document())
            ),
        }
        yield Loaded(name, sqlite_file, keys)


@contextlib.contextmanager
def copy_of(loaded: Loaded, backend: str, folder: Path) -> Iterator[tuple[Settings, dict[str, str]]]:
    """A database of the loaded ledgers for one test (a copy), its settings (cold tier under `folder`) and the
    environment of a CLI process on it."""
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            url = pg_database_url(
                stack.enter_context(pg_database("obsrvr_test_tiers", template=loaded.pg_template))
            )
        else:
            shutil.copyfile(loaded.sqlite_file, folder / "tiers.db")
            url = f"sqlite+aiosqlite:///{folder / 'tiers.db'}"
        settings = settings_for(url, cold_url=str(folder / "cold"))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")},
            "OBSRVR_DATABASE_URL": url,
            "OBSRVR_KEY_PEPPER": settings.pepper,
            "OBSRVR_COLD_URL": settings.cold_url,
        }
        yield settings, env


@pytest.fixture(params=["sqlite", "postgresql"])
def tiers(request: pytest.FixtureRequest, loaded: Loaded, tmp_path: Path) -> Iterator[Tiers]:
    with (
        copy_of(loaded, request.param, tmp_path) as (settings, env),
        TestClient(build_app(settings)) as client,
    ):
        yield Tiers(settings, loaded.keys[request.param], client, env)


async def _archive(settings: Settings, cut: ArchiveCut) -> None:
    engine = create_engine(settings.database_url)
    store = ColdStore.from_settings(settings)
    try:
        record = await TenantStore(engine).get(TENANT)
        assert record is not None
        await archive_tenant(engine, store, default_registry(), record, cut=cut)
    finally:
        await store.close()
        await engine.dispose()


async def _watermarks(settings: Settings) -> dict[str, str]:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return {table: mark.last_id for table, mark in (await read_watermarks(conn, TENANT)).items()}
    finally:
        await engine.dispose()


def test_every_answer_is_the_same_before_and_after_archival(tiers: Tiers) -> None:
    rows_of = samples(tiers.settings.database_url)
    before = collect(tiers.client, tiers.key, rows_of, tiers.env)
    assert_sources(before, {})

    asyncio.run(_archive(tiers.settings, ArchiveCut(before_ledger=MID)))
    marks = asyncio.run(_watermarks(tiers.settings))
    assert set(marks) == ARCHIVED_TABLES
    for table in ARCHIVED_TABLES:  # the watermark is the last row before the cut-off
        below = [r["id"] for r in rows_of[table] if r["ledger_sequence"] < MID]
        assert marks[table] == max(below), table
    middle = collect(tiers.client, tiers.key, rows_of, tiers.env)
    assert_same(before, middle)
    assert_sources(middle, marks)

    result = CliRunner().invoke(
        app, ["archive", "--tenant", TENANT, "--before", str(LAST + 1)], env=tiers.env
    )
    assert result.exit_code == 0, result.output
    for table in ARCHIVED_TABLES:
        assert f".{table}: " in result.stdout, result.stdout
    marks = asyncio.run(_watermarks(tiers.settings))
    for table in ARCHIVED_TABLES:
        assert marks[table] == max(r["id"] for r in rows_of[table]), table
    everything = collect(tiers.client, tiers.key, rows_of, tiers.env)
    assert_same(before, everything)
    assert_sources(everything, marks, everything=True)


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


def test_archival_killed_anywhere_loses_and_repeats_nothing(loaded: Loaded, tmp_path: Path) -> None:
    with copy_of(loaded, "postgresql", tmp_path) as (settings, env):
        url, cold = settings.database_url, Path(settings.cold_url)
        with TestClient(build_app(settings)) as client:
            rows_of = samples(url)
            before = collect(client, loaded.keys["postgresql"], rows_of, env)
            hot_transfers = _count(url, "token_transfers")

            # 1. Killed after writing a file, before the watermark moves: the file is an orphan, nothing moved.
            died = subprocess.run(  # noqa: S603 - our own code
                [sys.executable, "-c", KILLED_BEFORE_WATERMARK % (TENANT, MID)], env=env, check=False
            )
            assert died.returncode == -signal.SIGKILL
            assert _cold_files(cold), "the run wrote its file before it died"
            assert sql(url, "SELECT count(*) FROM cold_files")[0][0] == 0
            assert sql(url, "SELECT count(*) FROM archive_watermarks")[0][0] == 0
            assert _count(url, "token_transfers") == hot_transfers
            assert export_all(env) == before.bodies["export"]

            rerun = subprocess.run(  # noqa: S603
                [*CLI, "archive", "--tenant", TENANT, "--before", str(MID)],
                env=env,
                capture_output=True,
                check=False,
            )
            assert rerun.returncode == 0, rerun.stderr.decode()
            manifest = {row[0] for row in sql(url, "SELECT key FROM cold_files")}
            assert manifest and _cold_files(cold) == manifest  # the orphan was swept
            assert export_all(env) == before.bodies["export"]

            # 2. Killed in the middle of the hot deletion (one row per transaction: seconds of deleting).
            left = _count(url, "token_transfers")
            process = spawn_cli(
                ["archive", "--tenant", TENANT, "--before", str(LAST + 1)],
                {**env, "OBSRVR_ARCHIVE_DELETE_BATCH_ROWS": "1"},
                tmp_path / "archive.log",
            )
            try:
                wait_until(
                    lambda: 0 < _count(url, "token_transfers") < left - 10, 120, "the hot deletion to start"
                )
                os.killpg(process.pid, signal.SIGKILL)
            finally:
                stop_process(process)
            remaining = _count(url, "token_transfers")
            assert 0 < remaining < left, "killed in the middle of the deletion"
            # Rows at or below the watermark that linger hot are never read twice.
            assert export_all(env) == before.bodies["export"]

            rerun = subprocess.run(  # noqa: S603
                [*CLI, "archive", "--tenant", TENANT, "--before", str(LAST + 1)],
                env=env,
                capture_output=True,
                check=False,
            )
            assert rerun.returncode == 0, rerun.stderr.decode()
            assert _count(url, "token_transfers") == 0
            after = collect(client, loaded.keys["postgresql"], rows_of, env)
            assert_same(before, after)
            assert_sources(after, asyncio.run(_watermarks(settings)), everything=True)
