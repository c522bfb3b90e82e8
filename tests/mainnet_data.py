"""The 20 real mainnet ledgers 63092982-63093001 ingested once per test session into a PostgreSQL database,
for the API tests (GraphQL, REST) that read them.

Two tenants of pubnet: `full` enables every processor (configs as the tenant YAML would leave them by
default), `partial` only token transfers and contract events. Keys: `full` (read:*), `full_transfers_only`
(read:token_transfers), `partial` (read:*). The database is read-only for the tests that use it and is dropped
at the end of the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
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
        }
    }


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


@pytest.fixture(scope="session")
def mainnet_data(pg_template: str) -> Iterator[MainnetData]:
    """See the module docstring; skipped where the ledger corpus is absent."""
    from tests.api.helpers import settings_for
    from tests.conftest import SHARED_LEDGERS, pg_database, pg_database_url

    if not (SHARED_LEDGERS / "wallet-backend").is_dir():
        pytest.skip(
            f"real ledger corpus not found at {SHARED_LEDGERS} (it lives beside the project, in ../shared)"
        )
    with pg_database("obsrvr_test_mainnet", template=pg_template) as name:  # migrated: a copy of the template
        url = pg_database_url(name)
        keys = asyncio.run(_load(url, SHARED_LEDGERS, settings_for(url).pepper))
        yield MainnetData(url=url, keys=keys)
