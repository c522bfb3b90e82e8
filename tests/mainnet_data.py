"""The 20 real mainnet ledgers 63092982-63093001 ingested once per test session and backend, for the tests that
read them: a PostgreSQL template database and a SQLite file, each built the first time a test asks for it.

Two tenants of pubnet: `full` enables every processor (configs as the tenant YAML would leave them by
default), `partial` only token transfers and contract events. Keys: `full` (read:*), `full_transfers_only`
(read:token_transfers), `partial` (read:*). `mainnet_data` is one copy on PostgreSQL shared by the API tests
(read-only for them); `mainnet_db` and `mainnet_pg` give a test that changes rows (archives, purges) a copy of
its own: ingesting takes tens of seconds, a copy about a second. Under pytest-xdist the first worker that asks
ingests them, and every worker copies that (tests/parallel.py `once_per_run`).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

FIRST, LAST = 63092982, 63093001
FULL, PARTIAL = "full-tenant", "partial-tenant"
PARTIAL_TYPES = ("TokenTransferProcessor", "ContractEventProcessor")


@dataclass(frozen=True)
class MainnetData:
    url: str
    keys: dict[str, str]  # name -> secret


def tenant_document(tenant_id: str, types: list[str]) -> dict[str, Any]:
    """A pubnet tenant enabling `types` with default configs and limits no test reaches."""
    return {
        "customer": {
            "id": tenant_id,
            "name": tenant_id,
            "network": "pubnet",
            "processors": [{"type": t, "enabled": True, "config": {}} for t in types],
            "api": {"rate_limit_per_minute": 100_000, "concurrent_requests": 100},
            "storage": {"archive_schedule": _archive_schedule_far_from_now()},
        }
    }


def _archive_schedule_far_from_now() -> str:
    """A daily archive time twelve hours away: the ledgers are older than `hot_retention_days`, so an app built
    over this data (its in-process cron) would archive them if the schedule came due during the session (the
    default, 02:00 UTC, did for sessions running then), and the tests that read them would find them gone."""
    return f"0 {(datetime.now(UTC).hour + 12) % 24} * * *"


async def _load(url: str, ledgers: Path, pepper: str) -> dict[str, str]:
    from core.settings import Network
    from core.tenant_config import parse_tenant_config
    from ingest.engine import IngestEngine, plan_tenants
    from processors.registry import default_registry
    from storage import migrate
    from storage.api_keys import ApiKeyStore
    from storage.db import create_engine
    from storage.tenants import TenantStore
    from tests import corpus

    engine = create_engine(url)
    try:
        # A no-op on the tests' copy of the migrated template; the benches (bench/rest.py, bench/graphql.py)
        # hand over an empty database.
        await migrate.upgrade(engine)
        configs = []
        for tenant_id, types in (
            (FULL, [p.type_name for p in default_registry().catalogue().values()]),
            (PARTIAL, list(PARTIAL_TYPES)),
        ):
            config = parse_tenant_config(tenant_document(tenant_id, types), default_registry().catalogue())
            await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", config.to_document())
            configs.append(config)
        plans = plan_tenants(configs, default_registry().catalogue(), Network.pubnet)
        # What `process_ledger` makes of the 20 ledgers, from the session's one decoding of them (the processor
        # tests read the same, tests/corpus.py), written five ledgers a transaction as
        # `ingest_stream(batch_size=5)` writes them.
        results = corpus.tenant_results(ledgers, corpus.MAINNET_20, plans)
        assert [result.sequence for result in results] == list(range(FIRST, LAST + 1))
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        for start in range(0, len(results), 5):
            await ingest.write_batch(results[start : start + 5])
        # Fresh statistics, as autovacuum would have them on a live database: without them the planner takes
        # a few dozen rows for ten thousand and sorts whole partitions (the benches measure this data too).
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        keys = ApiKeyStore(engine, pepper)
        return {
            "full": (await keys.create(FULL)).secret,
            "full_transfers_only": (await keys.create(FULL, ("read:token_transfers",))).secret,
            "partial": (await keys.create(PARTIAL)).secret,
        }
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class MainnetTemplate:
    """The ingested ledgers of one backend: what a copy is made from, and the keys every copy holds."""

    backend: str  # "postgresql" (source: a template database's name) or "sqlite" (source: the file)
    source: str
    keys: dict[str, str]


def require_corpus() -> Path:
    """The real ledger corpus; the test (or the fixture of a wider scope) skips where it is absent."""
    from tests.conftest import SHARED_LEDGERS

    if not (SHARED_LEDGERS / "wallet-backend").is_dir():
        pytest.skip(
            f"real ledger corpus not found at {SHARED_LEDGERS} (it lives beside the project, in ../shared)"
        )
    return SHARED_LEDGERS


@contextmanager
def filled_template(
    backend: str, migrated: str | Path, folder: Path, prefix: str, fill: Callable[[str], None]
) -> Iterator[str]:
    """A template of `backend` filled once, for tests that each want a copy of the same rows: a copy of the
    migrated template `migrated` (a PostgreSQL database's name, or a SQLite file) handed to `fill(url)`, which
    must dispose of its engines. Yields the source `copy_of` takes: the name of a PostgreSQL database (under
    `prefix`, closed to connections so it can be copied, dropped on exit) or a SQLite file in `folder`."""
    from tests.conftest import _pg_admin, pg_database, pg_database_url

    if backend == "sqlite":
        path = folder / f"{prefix}.db"
        shutil.copyfile(migrated, path)
        fill(f"sqlite+aiosqlite:///{path}")
        # The engines are disposed: the write-ahead log is checkpointed into the file, which alone is copied.
        assert not path.with_name(path.name + "-wal").exists()
        yield str(path)
        return
    with pg_database(prefix, template=str(migrated)) as name:
        fill(pg_database_url(name))
        _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        yield name


@contextmanager
def copy_of(backend: str, source: str, folder: Path) -> Iterator[str]:
    """The URL of a database of the test's own copied from a `filled_template` source (a SQLite copy is made
    in `folder`; a PostgreSQL one is dropped on exit): about a second, where filling takes tens."""
    from tests.conftest import pg_database, pg_database_url

    if backend == "sqlite":
        path = folder / "copy.db"
        shutil.copyfile(source, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    with pg_database("obsrvr_test_copy", template=source) as name:
        yield pg_database_url(name)


def _mainnet_template(
    config: pytest.Config, backend: str, migrated: str | Path, folder: Path
) -> Iterator[MainnetTemplate]:
    from tests import parallel
    from tests.api.helpers import settings_for
    from tests.conftest import _drop_database, _pg_admin, pg_database_url

    ledgers = require_corpus()
    keys: dict[str, str] = {}

    def fill(url: str) -> None:
        keys.update(asyncio.run(_load(url, ledgers, settings_for(url).pepper)))  # disposes its engine

    if not parallel.is_worker(config):
        with filled_template(backend, migrated, folder, "obsrvr_tmpl_mainnet", fill) as source:
            yield MainnetTemplate(backend, source, keys)
        return

    # Under xdist the first worker that asks ingests, the others copy what it made (see tests/parallel.py).
    def build() -> dict[str, Any]:
        if backend == "sqlite":
            path = parallel.run_folder(config) / "mainnet.db"
            path.unlink(missing_ok=True)  # a failed build's
            shutil.copyfile(migrated, path)
            fill(f"sqlite+aiosqlite:///{path}")
            assert not path.with_name(path.name + "-wal").exists()  # checkpointed: the file alone is copied
            return {"source": str(path), "keys": keys}
        name = parallel.shared_database(config, "mainnet")
        _drop_database(name)  # a failed build's
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{migrated}"')
        fill(pg_database_url(name))
        _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        return {"source": name, "keys": keys}

    built = parallel.once_per_run(config, f"mainnet-{backend}", build)
    yield MainnetTemplate(backend, built["source"], built["keys"])


@pytest.fixture(scope="session")
def mainnet_pg_template(
    request: pytest.FixtureRequest, pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainnetTemplate]:
    """A PostgreSQL database holding the ingested ledgers, closed to connections so it can be copied (one for
    all the workers of an xdist run)."""
    yield from _mainnet_template(
        request.config, "postgresql", pg_template, tmp_path_factory.mktemp("mainnet-template")
    )


@pytest.fixture(scope="session")
def mainnet_sqlite_template(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainnetTemplate]:
    """A SQLite file holding the ingested ledgers (the tests copy it; one for all the workers of an xdist run)."""
    yield from _mainnet_template(
        request.config, "sqlite", sqlite_template, tmp_path_factory.mktemp("mainnet-template")
    )


@contextmanager
def mainnet_copy(template: MainnetTemplate, folder: Path) -> Iterator[MainnetData]:
    """A database of the test's own holding the ingested ledgers (a SQLite copy is made in `folder`)."""
    with copy_of(template.backend, template.source, folder) as url:
        yield MainnetData(url=url, keys=template.keys)


@pytest.fixture(scope="session")
def mainnet_data(
    mainnet_pg_template: MainnetTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainnetData]:
    """See the module docstring: one PostgreSQL copy, read-only for the tests that use it."""
    with mainnet_copy(mainnet_pg_template, tmp_path_factory.mktemp("mainnet-data")) as data:
        yield data


@pytest.fixture(params=["sqlite", "postgresql"])
def mainnet_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MainnetData]:
    """Both backends: a fresh copy of the ingested ledgers for this test alone."""
    template = request.getfixturevalue(
        f"mainnet_{'pg' if request.param == 'postgresql' else 'sqlite'}_template"
    )
    with mainnet_copy(template, tmp_path) as data:
        yield data


@pytest.fixture
def mainnet_pg(mainnet_pg_template: MainnetTemplate, tmp_path: Path) -> Iterator[MainnetData]:
    """A fresh PostgreSQL copy of the ingested ledgers for this test alone."""
    with mainnet_copy(mainnet_pg_template, tmp_path) as data:
        yield data
