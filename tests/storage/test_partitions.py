"""Monthly partitions on PostgreSQL: creation, idempotence, rows rescued from the default partition,
maintenance ahead of time, and the helpers processor tables use. On SQLite every call is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Integer, MetaData, PrimaryKeyConstraint, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.audit import AuditEntry, AuditLog
from storage.db import create_engine
from storage.partitions import (
    add_default_partition,
    add_months,
    ensure_partitions,
    ensure_partitions_ahead,
    partition_table_kwargs,
    partitioned_tables,
    prepare_partitioned_table,
)
from storage.tables import UTCDateTime


async def partitions_of(engine: AsyncEngine, parent: str) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = CAST(:p AS regclass)"),
            {"p": parent},
        )
        return set(rows.scalars())


def month_names(parent: str, start: datetime, months: int) -> set[str]:
    return {f"{parent}_p{add_months(start, i):%Y%m}" for i in range(months + 1)}


async def test_migration_partitions_audit_log(pg_engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    expected = month_names("audit_log", add_months(now, -1), 4) | {"audit_log_default"}
    assert await partitions_of(pg_engine, "audit_log") == expected
    async with pg_engine.connect() as conn:
        # The processor tables of later migrations are partitioned too.
        assert {"audit_log", "contract_events", "token_transfers"} <= set(await partitioned_tables(conn))


async def test_function_creates_months_and_is_idempotent(pg_engine: AsyncEngine) -> None:
    start, end = datetime(2020, 1, 15, tzinfo=UTC), datetime(2020, 3, 2, tzinfo=UTC)
    async with pg_engine.begin() as conn:
        assert await ensure_partitions(conn, "audit_log", start, end) == 3
    async with pg_engine.begin() as conn:
        assert await ensure_partitions(conn, "audit_log", start, end) == 0
        # A wider range creates only what is missing.
        assert await ensure_partitions(conn, "audit_log", datetime(2019, 12, 31, tzinfo=UTC), end) == 1
    names = await partitions_of(pg_engine, "audit_log")
    assert {"audit_log_p201912", "audit_log_p202001", "audit_log_p202002", "audit_log_p202003"} <= names
    async with pg_engine.connect() as conn:
        bound = await conn.execute(
            text("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'audit_log_p202002'")
        )
        assert bound.scalar_one() == (
            "FOR VALUES FROM ('2020-02-01 00:00:00+00') TO ('2020-03-01 00:00:00+00')"
        )


async def test_rows_in_default_partition_move_to_new_partition(pg_engine: AsyncEngine) -> None:
    audit = AuditLog(pg_engine, flush_seconds=0)
    old = datetime(2019, 6, 15, 12, tzinfo=UTC)
    await audit.record(AuditEntry(action="auth.accepted", actor="api_key", tenant_id="t1", created_at=old))
    await audit.record(AuditEntry(action="auth.accepted", actor="api_key", tenant_id="t1"))
    where = "SELECT tableoid::regclass::text, id FROM audit_log WHERE created_at = :at"
    async with pg_engine.connect() as conn:
        before = (await conn.execute(text(where), {"at": old})).one()
    assert before[0] == "audit_log_default"

    async with pg_engine.begin() as conn:
        assert await ensure_partitions(conn, "audit_log", old, old) == 1

    async with pg_engine.connect() as conn:
        after = (await conn.execute(text(where), {"at": old})).one()
        in_default = await conn.execute(text("SELECT count(*) FROM audit_log_default"))
        total = await conn.execute(text("SELECT count(*) FROM audit_log"))
        assert in_default.scalar_one() == 0
        assert total.scalar_one() == 2
    assert after == ("audit_log_p201906", before[1])  # moved, same id
    # The moved-into partition is a normal member: new writes for that month land in it.
    await audit.record(AuditEntry(action="auth.refused", actor="anonymous", created_at=old))
    async with pg_engine.connect() as conn:
        placed = await conn.execute(text("SELECT count(*) FROM audit_log_p201906"))
        assert placed.scalar_one() == 2


async def test_ensure_partitions_ahead(pg_engine: AsyncEngine) -> None:
    now = datetime(2031, 11, 20, tzinfo=UTC)
    made = await ensure_partitions_ahead(pg_engine, 4, now=now)
    assert made["audit_log"] == 5 and set(made.values()) == {5}  # every partitioned table
    assert month_names("audit_log", now, 4) <= await partitions_of(pg_engine, "audit_log")
    assert "audit_log_p203203" in await partitions_of(pg_engine, "audit_log")
    assert set((await ensure_partitions_ahead(pg_engine, 4, now=now)).values()) == {0}
    # Default `now`: this month is already covered by the migrations' window.
    assert set((await ensure_partitions_ahead(pg_engine, 3)).values()) == {0}


async def test_old_audit_rows_still_insert(pg_engine: AsyncEngine) -> None:
    audit = AuditLog(pg_engine, flush_seconds=0)
    ancient = datetime(2001, 1, 1, tzinfo=UTC)
    far = datetime(2099, 1, 1, tzinfo=UTC)
    await audit.record(AuditEntry(action="tenant.created", actor="admin", created_at=ancient))
    await audit.record(AuditEntry(action="tenant.created", actor="admin", created_at=far))
    rows = await audit.query(action="tenant.created")
    assert [row["created_at"] for row in rows] == [far, ancient]


async def test_processor_style_table(migrated_db_url: str) -> None:
    """A table made the way processor tables are: partitioned by closed_at, writable at once (the migrated
    database has the partition function on PostgreSQL)."""
    engine = create_engine(migrated_db_url)
    table = add_default_partition(
        Table(
            "sample_events",
            MetaData(),
            Column("ledger_sequence", Integer, nullable=False),
            Column("closed_at", UTCDateTime, nullable=False),
            PrimaryKeyConstraint("ledger_sequence", "closed_at"),
            **partition_table_kwargs(),
        )
    )
    at = datetime(2024, 2, 10, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(insert(table).values(ledger_sequence=1, closed_at=at))  # default partition
            made = await conn.run_sync(lambda sync: prepare_partitioned_table(sync, "sample_events"))
            made += await ensure_partitions(conn, "sample_events", at, at)
        async with engine.connect() as conn:
            assert (await conn.execute(select(table.c.ledger_sequence))).scalars().all() == [1]
            if engine.dialect.name == "postgresql":
                assert made == 6  # last month .. 3 months ahead, plus February 2024
                where = await conn.execute(text("SELECT tableoid::regclass::text FROM sample_events"))
                assert where.scalar_one() == "sample_events_p202402"
                assert {"audit_log", "sample_events"} <= set(await partitioned_tables(conn))
            else:
                assert made == 0
                assert await partitioned_tables(conn) == []
    finally:
        await engine.dispose()


async def test_sqlite_is_a_no_op(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            assert await ensure_partitions(conn, "audit_log", datetime(2020, 1, 1), datetime(2020, 5, 1)) == 0
        assert await ensure_partitions_ahead(engine, 3) == {}
    finally:
        await engine.dispose()


def test_add_months() -> None:
    assert add_months(datetime(2024, 1, 31, 5, tzinfo=UTC), 1) == datetime(2024, 2, 1, 5, tzinfo=UTC)
    assert add_months(datetime(2024, 11, 3, tzinfo=UTC), 3) == datetime(2025, 2, 1, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 3, tzinfo=UTC), -1) == datetime(2023, 12, 1, tzinfo=UTC)
