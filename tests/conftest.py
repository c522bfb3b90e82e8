"""Shared fixtures: real PostgreSQL and Redis, and SQLite for the embedded mode.

PostgreSQL: each test that asks for `pg_url` gets a fresh database (created from the admin URL and dropped
after the test), so tests never see each other's rows. A migrated database (`migrated_pg`) is a copy of a
template migrated once per session: copying takes ~0.2 s where running the migrations takes ~1 s. Both are
made ahead, while the previous test runs (`DatabaseSupply`), and dropped after the test in the background,
several at once (`DatabaseDropper`: every drop waits for a checkpoint). SQLite copies a migrated file
(`migrated_sqlite`). Redis: each test gets its own key prefix, and every key under it is deleted afterwards.
Neither is mocked; if a server is down the test fails with a clear message (`.ci/run` starts both before the
suite).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from tests import parallel

PG_ADMIN_URL = os.environ.get("OBSRVR_TEST_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("OBSRVR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
pytest_plugins = ["tests.mainnet_data"]

SHARED_LEDGERS = Path(__file__).resolve().parents[1].parent / "shared" / "ledgers"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "alone: run while no other test of the run is running, under pytest-xdist too (a test that compares "
        "timings measured in it); see tests/parallel.py",
    )
    config.addinivalue_line(
        "markers",
        "heavy(seconds): a test file taking a minute or more (about `seconds` in a run of the suite); under "
        "pytest-xdist the heavy files start first, longest first, so that none runs on alone at the end of the run "
        "(tests/parallel.py `order_files`)",
    )
    parallel.choose_run_id(config)
    if parallel.is_worker(config):
        from tests import corpus

        corpus.share_decodings(parallel.run_folder(config))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if parallel.is_worker(config):  # one process runs the files in their own order
        parallel.order_files(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    with parallel.turn(item.config, alone=item.get_closest_marker("alone") is not None):
        return (yield)


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown, which hands over the last databases
def pytest_sessionfinish(session: pytest.Session) -> None:
    failed = _DROPPER.drain()
    if failed:  # after the tests: nothing left to fail, but said where the run's output is read
        print(f"\ntests/conftest.py: test databases not dropped: {'; '.join(failed)}", file=sys.stderr)
    if parallel.is_controller(session.config):  # every worker is done with the databases they shared
        parallel.drop_shared_databases(session.config, _pg_admin)


def _pg_admin(sql: str) -> list[str]:
    """Run `sql` on the server's admin database; the first column of the rows it returns, as text."""
    import asyncpg

    async def run() -> list[str]:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc} (start it, see DEVELOPERS.md)")
        try:
            return [str(row[0]) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def pg_database_url(name: str) -> str:
    """SQLAlchemy URL of database `name` on the test server."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def _create_database(prefix: str, template: str | None) -> str:
    # Random names let several runs share the server. Copying a template needs no session on it: PostgreSQL
    # refuses the copy while one is open.
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def _drop_database(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DatabaseDropper:
    """Drops the tests' databases in a thread of its own, all those waiting at once.

    `DROP DATABASE` makes the server checkpoint (it waits for one that starts after it), and a checkpoint takes
    seconds when the server is busy: one drop after each test cost 1-10 s on this shared 2-core machine, more
    than most tests themselves. Drops issued together are served by the same checkpoint (eight one after the
    other: 30-40 s; eight at once: under a second, measured while other work loaded the server). So a test's
    database is handed here when the test is done: nothing connects to it again, the test does not wait, and
    whatever piled up during one round of drops goes in the next round together. The session waits for the
    last round (`drain`, at its end); a drop that failed is reported then.
    """

    ROUND = 8  # databases dropped at once, each over its own connection

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._failed: list[str] = []
        self._busy = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def drop(self, name: str) -> None:
        with self._wake:
            self._pending.append(name)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="obsrvr-test-drops", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def drain(self) -> list[str]:
        """Wait until every database handed over is dropped; the names whose drop failed."""
        with self._wake:
            self._wake.wait_for(lambda: not self._pending and not self._busy)
            failed, self._failed = self._failed, []
            return failed

    def _run(self) -> None:
        while True:
            with self._wake:
                self._busy = False
                self._wake.notify_all()
                self._wake.wait_for(lambda: bool(self._pending))
                names, self._pending = self._pending[: self.ROUND], self._pending[self.ROUND :]
                self._busy = True
            failed = asyncio.run(self._drop_together(names))
            with self._wake:
                self._failed.extend(failed)

    @staticmethod
    async def _drop_together(names: list[str]) -> list[str]:
        import asyncpg

        async def drop(name: str) -> None:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        outcomes = await asyncio.gather(*(drop(name) for name in names), return_exceptions=True)
        return [f"{name}: {outcome}" for name, outcome in zip(names, outcomes, strict=True) if outcome]


_DROPPER = DatabaseDropper()


def drop_database_later(name: str) -> None:
    """Drop database `name` soon, in the background, together with others (see `DatabaseDropper`). Nothing may
    use it any more."""
    _DROPPER.drop(name)


@contextmanager
def pg_database(prefix: str = "obsrvr_test", template: str | None = None) -> Iterator[str]:
    """The name of a new database (a copy of `template` if given) under a random name, dropped after the block
    (in the background: `drop_database_later`)."""
    name = _create_database(prefix, template)
    try:
        yield name
    finally:
        drop_database_later(name)


class DatabaseSupply:
    """New databases for the tests, each made while the test before it runs.

    Creating a database (a copy of the template, or an empty one) is server work: ~0.2 s on a quiet machine, up
    to ~0.8 s on a busy one. A thread of its own makes the next test's database while the current test runs.
    Every test still gets a fresh database of its own, handed to `DatabaseDropper` when the test is done (one
    drop after each test, waited for, measured faster on a quiet machine; on the shared, busy one each drop
    waited 1-10 s for a checkpoint). When the session ends, the database made ahead is dropped too.
    """

    def __init__(self, template: str | None = None) -> None:
        self._template = template
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obsrvr-test-databases")
        self._next: Future[str] | None = None

    def take(self) -> str:
        ready = self._next or self._thread.submit(_create_database, "obsrvr_test", self._template)
        self._next = self._thread.submit(_create_database, "obsrvr_test", self._template)
        return ready.result()

    def close(self) -> None:
        if self._next is not None:
            with suppress(Exception):  # its creation failed: there is nothing to drop
                drop_database_later(self._next.result())
        self._thread.shutdown(wait=True)


@contextmanager
def _supply(template: str | None = None) -> Iterator[DatabaseSupply]:
    supply = DatabaseSupply(template)
    try:
        yield supply
    finally:
        supply.close()


@pytest.fixture(scope="session")
def empty_databases() -> Iterator[DatabaseSupply]:
    with _supply() as supply:
        yield supply


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a PostgreSQL database migrated to head once per session, which `migrated_pg` copies."""
    from tests.api.helpers import migrate_db

    with pg_database("obsrvr_tmpl") as name:
        migrate_db(pg_database_url(name))  # disposes its engine: no session stays open on the template
        # Nothing may connect to it from now on (a session on it would make every copy fail).
        _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        yield name


@pytest.fixture(scope="session")
def migrated_databases(pg_template: str) -> Iterator[DatabaseSupply]:
    with _supply(pg_template) as supply:  # closed (its copies dropped) before the template is
        yield supply


@contextmanager
def _database_url(supply: DatabaseSupply) -> Iterator[str]:
    name = supply.take()
    try:
        yield pg_database_url(name)
    finally:
        drop_database_later(name)


@pytest.fixture
def pg_url(empty_databases: DatabaseSupply) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty (unmigrated) PostgreSQL database, dropped after the test."""
    with _database_url(empty_databases) as url:
        yield url


@pytest.fixture
def migrated_pg(migrated_databases: DatabaseSupply) -> Iterator[str]:
    """A fresh PostgreSQL database migrated to head (a copy of the session's template), dropped after the test."""
    with _database_url(migrated_databases) as url:
        yield url


@pytest.fixture
def migrated_pg_2(migrated_databases: DatabaseSupply) -> Iterator[str]:
    """A second one, for a test comparing two databases."""
    with _database_url(migrated_databases) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty (unmigrated) SQLite database."""
    return f"sqlite+aiosqlite:///{tmp_path}/obsrvr-flow.db"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, which `migrated_sqlite` copies."""
    from tests.api.helpers import migrate_db

    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    migrate_db(f"sqlite+aiosqlite:///{path}")
    # The engine is disposed: the last connection's close checkpointed the write-ahead log into the file.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def migrated_sqlite(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database migrated to head (a copy of the session's template)."""
    path = tmp_path / "obsrvr-flow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Both storage backends, empty, for the storage contract tests."""
    return str(request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_db_url(request: pytest.FixtureRequest) -> str:
    """Both storage backends, migrated to head."""
    return str(request.getfixturevalue(f"migrated_{'pg' if request.param == 'postgresql' else 'sqlite'}"))


@pytest.fixture
def redis_prefix() -> str:
    return f"obsrvr-test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[object]:
    """A real Redis client; every key under this test's prefix is removed afterwards."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc} (start it, see DEVELOPERS.md)")
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def shared_ledgers() -> Path:
    """The real ledger corpus beside the project; tests that need it skip where it is absent."""
    if not SHARED_LEDGERS.is_dir():
        pytest.skip(
            f"real ledger corpus not found at {SHARED_LEDGERS} (it lives beside the project, in ../shared)"
        )
    return SHARED_LEDGERS


@pytest.fixture
def make_client(migrated_pg: str) -> Iterator[Callable[..., Any]]:
    """Build apps on the migrated database (settings overridable) and drive them with TestClient."""
    from starlette.testclient import TestClient

    from obsrvr_flow.wiring import build_app
    from tests.api.helpers import LOOPBACK, settings_for

    clients: list[TestClient] = []

    def make(client_addr: tuple[str, int] = LOOPBACK, **overrides: Any) -> TestClient:
        client = TestClient(build_app(settings_for(migrated_pg, **overrides)), client=client_addr)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()


@pytest.fixture
async def arq_cleanup(redis_client: Any, redis_prefix: str) -> AsyncIterator[None]:
    """Remove arq's own keys for queues named under this test's prefix (arq keeps them outside the queue)."""
    yield
    keys = [key async for key in redis_client.scan_iter(match=f"arq:*:{redis_prefix}*")]
    if keys:
        await redis_client.delete(*keys)
