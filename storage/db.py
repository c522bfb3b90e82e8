"""Async engines for the two storage backends.

`create_engine(url)` is the only place that knows how each backend wants its connections set up:

* SQLite (embedded mode, ``sqlite+aiosqlite:///path``): the parent folder is created, every connection turns
  foreign keys on (SQLite leaves them off), uses the WAL journal (readers do not block the writer) and waits
  for locks instead of failing at once. Transactions are made real (``BEGIN`` emitted by SQLAlchemy rather
  than by the driver's heuristics), so DDL, savepoints and rollbacks behave as on PostgreSQL.
* PostgreSQL (``postgresql+asyncpg://``): a bounded pool with pre-ping, so a restarted server costs one retry
  rather than a failed request.

There are no module-level engines: the composition root builds one from settings and disposes of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 20, "pool_timeout": 30, "pool_recycle": 1800}


def create_engine(url: str, **engine_kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url`, set up for its backend; `engine_kwargs` override the defaults."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **engine_kwargs)
        _configure_sqlite(engine)
        return engine
    options: dict[str, Any] = {"pool_pre_ping": True, **POSTGRES_POOL, **engine_kwargs}
    return create_async_engine(url, **options)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the "begin" listener below); the driver would otherwise
        # open transactions only before DML, leaving DDL and savepoints outside any transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # WAL with synchronous=NORMAL is durable against application crashes, and much faster.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def dialect_name(engine: AsyncEngine | AsyncConnection | Connection) -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend behind an engine or connection."""
    return engine.dialect.name


async def ping(engine: AsyncEngine) -> None:
    """Round-trip one trivial statement (readiness); raises whatever the driver raises when unreachable."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
