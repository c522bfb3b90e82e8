"""Async engines for the two storage backends.

`create_engine(url)` is the only place that knows how each backend wants its connections set up:

* SQLite (embedded mode, ``sqlite+aiosqlite:///path``): the parent folder is created, every connection turns
  foreign keys on (SQLite leaves them off), uses the WAL journal (readers do not block the writer) and waits
  for locks instead of failing at once. Transactions are made real (``BEGIN`` emitted by SQLAlchemy rather
  than by the driver's heuristics), so DDL, savepoints and rollbacks behave as on PostgreSQL.
* PostgreSQL (``postgresql+asyncpg://``): a bounded pool with a ping on checkout, so a restarted server costs
  one retry rather than a failed request, and a connect timeout, so a server that does not answer fails a
  request in seconds rather than holding it (the requests waiting for a pool slot meanwhile wait
  `pool_timeout`). The ping is ours (`_ping_on_checkout`), not SQLAlchemy's `pool_pre_ping`: the same check
  and the same recovery in one round trip instead of three (the dialect's pre-ping wraps its ``;`` in a
  ``BEGIN``/``ROLLBACK`` for pgbouncer's transaction mode, which we do not use).

`read_only(engine)` is the same pool for reads that need no transaction (PostgreSQL: autocommit, no
``BEGIN``/``ROLLBACK`` round trips around a read; each statement sees what was committed when it started, as in
the read committed transaction it replaces; SQLite: without its ``BEGIN`` for one-statement reads).

`database_unavailable(exc)` tells an outage of the database (refused, dropped or timed-out connections, a server
shutting down or starting up) from any other error, for the API's 503 `database_unavailable`.

There are no module-level engines: the composition root builds one from settings and disposes of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import await_

SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_CONFLICT_RETRY_SECONDS = 10.0
_T = TypeVar("_T")
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 20, "pool_timeout": 30, "pool_recycle": 1800}
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def create_engine(
    url: str, *, pool_timeout: float | None = None, pool_size: int | None = None, **engine_kwargs: Any
) -> AsyncEngine:
    """An `AsyncEngine` for `url`, set up for its backend; `engine_kwargs` override the defaults.

    `pool_timeout` (PostgreSQL's pool only; ignored for SQLite) bounds how long a checkout waits for a free
    connection: the API passes a short one so that, with the server hanging, requests fail fast. `pool_size`
    (PostgreSQL's only too) is how many connections the pool keeps: a worker sizes it by its jobs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **engine_kwargs)
        _configure_sqlite(engine)
        return engine
    options: dict[str, Any] = {
        "connect_args": {"timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
        **POSTGRES_POOL,
        **engine_kwargs,
    }
    if pool_timeout is not None:
        options["pool_timeout"] = pool_timeout
    if pool_size is not None:
        options["pool_size"] = pool_size
    engine = create_async_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_on_checkout(engine)
    return engine


def read_only(engine: AsyncEngine, *, single_statement: bool = False) -> AsyncEngine:
    """`engine` (its pool) for reads outside any transaction. PostgreSQL runs in autocommit, so a checkout that
    runs one or two SELECTs costs no ``BEGIN`` and ``ROLLBACK`` round trips: read committed, which the
    transactions it replaces ran in, already gave every statement its own snapshot, so nothing read changes.
    SQLite keeps its transactions (one snapshot across a checkout's statements) unless `single_statement`: then
    its ``BEGIN`` (three hops to aiosqlite's thread) is skipped too, the one statement being its own snapshot.
    Never for writes, nor for server-side cursors (``stream``), which need a transaction."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    if single_statement:
        return engine.execution_options(**{_NO_BEGIN: True})
    return engine


_FRESH = "obsrvr_fresh"
_NO_BEGIN = "obsrvr_no_begin"


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """What `pool_pre_ping` does, in one round trip: a pooled connection is checked with ``;`` when checked out
    (never one just opened); one that fails is dropped with every connection pooled before it, and the pool opens
    a new one (SQLAlchemy's handling of `InvalidatePoolError`, as for a failed pre-ping). The dialect's own ping
    runs ``BEGIN``, ``;`` and ``ROLLBACK``: three round trips on every checkout of every request."""

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        if record.info.pop(_FRESH, False):
            return
        driver = record.driver_connection
        if driver is None:  # not at checkout (the record holds an open connection): for the type checker
            return
        try:
            await_(driver.fetchrow(";"))
        except Exception as exc:
            # Like a failed pre-ping: whatever the reason, this connection is not served.
            raise sa_exc.InvalidatePoolError(f"ping on checkout failed: {type(exc).__name__}") from exc


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
        if not conn.get_execution_options().get(_NO_BEGIN):  # `read_only(single_statement=True)`
            conn.exec_driver_sql("BEGIN")


def dialect_name(engine: AsyncEngine | AsyncConnection | Connection) -> str:
    """``"sqlite"`` or ``"postgresql"``: the backend behind an engine or connection."""
    return engine.dialect.name


async def ping(engine: AsyncEngine) -> None:
    """Round-trip one trivial statement (readiness); raises whatever the driver raises when unreachable."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


# asyncpg's errors that mean the server or the connection to it is gone, by name (asyncpg is imported lazily):
# a server shutting down or starting up, a connection ended by an administrator, a crash, or dropped.
_OUTAGE_DRIVER_ERRORS = frozenset(
    {
        "AdminShutdownError",
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "ClientCannotConnectError",
        "CrashShutdownError",
        "TooManyConnectionsError",
    }
)
_DATABASE_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite")


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or an error it was raised from) says the database cannot be reached now: a connection the
    pool invalidated, a pool checkout that timed out, a refused/reset/timed-out connection raised by the driver,
    or one of the driver's "server going away" errors. Anything else (a bad statement, a constraint) is not."""
    for error in _chain(exc):
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sa_exc.TimeoutError):
            return True
        if type(error).__module__.startswith("asyncpg") and type(error).__name__ in _OUTAGE_DRIVER_ERRORS:
            return True
        if isinstance(error, OSError | TimeoutError) and _raised_in(error.__traceback__, _DATABASE_MODULES):
            return True
    return False


def write_conflict(exc: BaseException) -> bool:
    """Whether `exc` is SQLite refusing a write for now ("database is locked"/"busy"): the busy timeout ran out,
    or, at once and whatever the timeout, a transaction that read before writing found that another connection
    had committed since its read (WAL cannot move its snapshot forward). Running the transaction again, from its
    start, succeeds once the other writer is done; nothing of the refused one was written."""
    for error in _chain(exc):
        if isinstance(error, sa_exc.OperationalError) and error.connection_invalidated is False:
            message = str(error.orig).lower()
            if "database is locked" in message or "database is busy" in message:
                return True
    return False


async def retrying_write_conflicts(
    run: Callable[[], Awaitable[_T]], *, within: float = WRITE_CONFLICT_RETRY_SECONDS
) -> _T:
    """Await `run()` (one whole transaction), running it again from its start while SQLite refuses it with a
    write conflict (`write_conflict`), for up to `within` seconds; then, or on any other error, the error goes
    up. For short transactions that read before they write (count then insert, check then update) in the
    embedded mode, where the live tail commits every few seconds; PostgreSQL never raises such an error."""
    waited, pause = 0.0, 0.05
    while True:
        try:
            return await run()
        except sa_exc.DBAPIError as exc:
            if not write_conflict(exc) or waited >= within:
                raise
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, 1.0)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _raised_in(traceback: TracebackType | None, modules: tuple[str, ...]) -> bool:
    """Whether a frame of `traceback` belongs to one of `modules` (an OSError from the database driver, not
    from a file the request read)."""
    while traceback is not None:
        name = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if name.split(".", 1)[0] in modules:
            return True
        traceback = traceback.tb_next
    return False
