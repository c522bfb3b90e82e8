"""Engine set-up per backend, the timestamp type shared by every table, and what counts as a database outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, Table, event, insert, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage.db import (
    create_engine,
    database_unavailable,
    dialect_name,
    read_only,
    retrying_write_conflicts,
    write_conflict,
)
from storage.tables import UTCDateTime
from tests.servers import PrivatePostgres, free_port


async def test_sqlite_engine_creates_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "flow.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() > 0
        assert dialect_name(engine) == "sqlite"
        assert path.parent.is_dir()
    finally:
        await engine.dispose()


async def test_sqlite_rollback_undoes_ddl_and_dml(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            await conn.rollback()
        async with engine.connect() as conn:
            found = await conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 't'"))
            assert found.scalar_one() == 0
    finally:
        await engine.dispose()


async def test_timestamps_come_back_aware_utc(db_url: str) -> None:
    engine = create_engine(db_url)
    table = Table("stamps", MetaData(), Column("at", UTCDateTime))
    paris = timezone(timedelta(hours=2))
    written = [datetime(2024, 5, 1, 12, 30, tzinfo=paris), datetime(2024, 5, 1, 9, 0)]  # 2nd is naive = UTC
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(insert(table), [{"at": at} for at in written])
        async with engine.connect() as conn:
            read = (await conn.execute(select(table.c.at).order_by(table.c.at))).scalars().all()
            later = select(table.c.at).where(table.c.at > datetime(2024, 5, 1, 10, tzinfo=UTC))
            after_ten = (await conn.execute(later)).scalars().all()
        assert read == [datetime(2024, 5, 1, 9, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 30, tzinfo=UTC)]
        assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in read)
        assert after_ten == [datetime(2024, 5, 1, 10, 30, tzinfo=UTC)]
    finally:
        await engine.dispose()


async def test_an_unreachable_server_is_an_outage_and_a_bad_statement_is_not(pg_url: str) -> None:
    """`database_unavailable` on real failures: a refused connection and a pool timeout are outages; a
    statement the server refuses, or a file the request could not read, are not."""
    nowhere = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    engine = create_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with pytest.raises(OSError) as refused:
            async with nowhere.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert database_unavailable(refused.value)
        async with engine.connect():
            with pytest.raises(PoolTimeout) as exhausted:
                async with engine.connect():
                    pass
        assert database_unavailable(exhausted.value)
        with pytest.raises(ProgrammingError) as bad:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table"))
        assert not database_unavailable(bad.value)
        with pytest.raises(OSError) as missing:
            (Path(pg_url.rsplit("/", 1)[1]) / "no-such-file").read_bytes()
        assert not database_unavailable(missing.value)
    finally:
        await nowhere.dispose()
        await engine.dispose()


async def test_read_only_reads_outside_transactions_and_writes_keep_theirs(pg_url: str) -> None:
    """`read_only` on PostgreSQL: each statement its own transaction (`now()` moves between two of them); the
    same pooled connection, returned, runs `begin()` blocks as real transactions again (a failed one leaves
    nothing)."""
    engine = create_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with read_only(engine).connect() as conn:
            first = (await conn.execute(text("SELECT now()"))).scalar_one()
            await conn.execute(text("SELECT pg_sleep(0.01)"))
            assert (await conn.execute(text("SELECT now()"))).scalar_one() > first
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("roll back")
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT now()"))).scalar_one()
            await conn.execute(text("SELECT pg_sleep(0.01)"))
            assert (await conn.execute(text("SELECT now()"))).scalar_one() == first  # one transaction
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    finally:
        await engine.dispose()


async def test_single_statement_reads_skip_sqlite_begin(tmp_path: Path) -> None:
    """On SQLite `read_only(single_statement=True)` runs its statement without our `BEGIN`; the plain view and
    the engine keep it (a snapshot across a checkout's statements)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/reads.db")
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    try:
        for view, expected in (
            (read_only(engine, single_statement=True), ["SELECT 1"]),
            (read_only(engine), ["BEGIN", "SELECT 1"]),
            (engine, ["BEGIN", "SELECT 1"]),
        ):
            seen.clear()
            async with view.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            assert seen == expected
    finally:
        await engine.dispose()


async def test_connections_a_restart_ended_are_replaced_on_checkout() -> None:
    """The ping on checkout (`storage.db`): pooled connections ended by a PostgreSQL restart are found and
    replaced, so the first reads after the restart succeed, through the engine and its `read_only` view."""
    pg = PrivatePostgres()
    try:
        pg.start()
        engine = create_engine(pg.database_url("postgres"), pool_size=2, max_overflow=0)
        try:
            async with engine.connect() as one, read_only(engine).connect() as two:
                for conn in (one, two):  # both pooled connections opened and used
                    assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            pg.stop()
            pg.start()
            for view in (engine, read_only(engine), engine):
                async with view.connect() as conn:
                    assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        finally:
            await engine.dispose()
    finally:
        pg.close()


class TwoWriters:
    """Two engines on one SQLite file: `conflicting_write` reads on the first, lets the second commit a row, then
    writes on the first, which SQLite refuses at once ("database is locked", whatever the busy timeout)."""

    def __init__(self, path: Path) -> None:
        url = f"sqlite+aiosqlite:///{path}"
        self.mine, self.other = create_engine(url), create_engine(url)
        self.attempts = 0

    async def setup(self) -> None:
        async with self.mine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))

    async def conflicting_write(self, *, conflicts: int) -> None:
        self.attempts += 1
        async with self.mine.begin() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            if self.attempts <= conflicts:
                async with self.other.begin() as other:
                    await other.execute(text("INSERT INTO t VALUES (2)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))

    async def values(self) -> list[int]:
        async with self.mine.connect() as conn:
            return sorted((await conn.execute(text("SELECT x FROM t"))).scalars())

    async def dispose(self) -> None:
        await self.mine.dispose()
        await self.other.dispose()


async def test_a_refused_sqlite_write_is_a_write_conflict_and_runs_again(tmp_path: Path) -> None:
    writers = TwoWriters(tmp_path / "flow.db")
    try:
        await writers.setup()
        with pytest.raises(Exception) as refused:
            await writers.conflicting_write(conflicts=1)
        assert write_conflict(refused.value) and not database_unavailable(refused.value)
        assert await writers.values() == [2]  # nothing of the refused transaction was written

        writers.attempts = 0
        await retrying_write_conflicts(lambda: writers.conflicting_write(conflicts=2))
        assert writers.attempts == 3
        assert await writers.values() == [1, 2, 2, 2]  # the other writer's rows, and ours exactly once

        writers.attempts = 0
        with pytest.raises(Exception) as gave_up:  # a conflict that lasts is not retried for ever
            await retrying_write_conflicts(lambda: writers.conflicting_write(conflicts=100), within=0.2)
        assert write_conflict(gave_up.value) and 2 <= writers.attempts < 100
    finally:
        await writers.dispose()
