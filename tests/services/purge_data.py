"""Two tenants with real rows in every table, for the tenant purge and cost report tests: the 20 mainnet ledgers
ingested for `full-tenant` (every processor) and `partial-tenant` (a copy of the session's, `mainnet_db`), the
first half of every history table
archived to real Parquet files (watermarks and manifest rows with them), plus the foundation rows a tenant
leaves (usage counters, audit rows, a backfill range and its checkpoint)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from tests.mainnet_data import FULL, PARTIAL, MainnetData

TENANTS = (FULL, PARTIAL)


async def _foundation_rows(url: str) -> None:
    from storage.backfill import checkpoint_name
    from storage.db import create_engine
    from storage.tables import audit_log, backfill_ranges, checkpoints, usage_counters

    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for tenant in TENANTS:
                await conn.execute(
                    insert(usage_counters).values(
                        tenant_id=tenant,
                        key_id="",
                        bucket=now.replace(minute=0, second=0, microsecond=0),
                        kind="rest",
                        count=7,
                    )
                )
                for action in ("auth.refused", "tenant.created"):
                    await conn.execute(
                        insert(audit_log).values(
                            created_at=now, tenant_id=tenant, actor="admin", action=action
                        )
                    )
                await conn.execute(
                    insert(backfill_ranges).values(
                        tenant_id=tenant,
                        start_ledger=1,
                        end_ledger=2,
                        processors_key="X",
                        network="pubnet",
                        processors=["X"],
                        status="done",
                        ledgers_done=2,
                        attempts=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                await conn.execute(
                    insert(checkpoints).values(
                        name=checkpoint_name(tenant, 1, 2, ["X"]), network="pubnet", ledger=2, updated_at=now
                    )
                )
    finally:
        await engine.dispose()


async def _archive_first_half(url: str, cold: Path) -> None:
    from processors.registry import default_registry
    from storage.cold.archival import ArchiveCut, archive_table
    from storage.cold.store import ColdStore
    from storage.db import create_engine

    engine = create_engine(url)
    store = ColdStore.open(str(cold))
    try:
        for tenant in TENANTS:
            for processor in default_registry():
                for table in processor.archive:
                    await archive_table(
                        engine,
                        store,
                        tenant_id=tenant,
                        processor=processor.name,
                        table=table,
                        cut=ArchiveCut(before_ledger=MIDDLE),
                    )
    finally:
        await store.close()
        await engine.dispose()


MIDDLE = 63092992  # ledgers before it are archived


async def _webhook_rows(url: str) -> None:
    from storage.db import create_engine
    from storage.webhooks.tables import webhook_attempts, webhook_endpoints, webhook_messages

    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for tenant in TENANTS:
                endpoint = f"ep_{tenant}"[:40]
                await conn.execute(
                    insert(webhook_endpoints).values(
                        id=endpoint,
                        tenant_id=tenant,
                        url="https://hooks.example.com/in",
                        events=["token_transfer"],
                        filter={},
                        signing="hmac",
                        secret="whsec_dGVzdA==",
                        ordered=True,
                        max_concurrency=1,
                        source="api",
                        status="enabled",
                        created_at=now,
                        updated_at=now,
                    )
                )
                message = f"msg_{endpoint}_token_transfer_1"
                await conn.execute(
                    insert(webhook_messages).values(
                        id=message,
                        endpoint_id=endpoint,
                        tenant_id=tenant,
                        event_type="token_transfer",
                        row_id="1",
                        ledger=MIDDLE,
                        closed_at=now,
                        payload="{}",
                        status="delivered",
                        attempts=1,
                        created_at=now,
                        delivered_at=now,
                    )
                )
                await conn.execute(
                    insert(webhook_attempts).values(
                        message_id=message,
                        endpoint_id=endpoint,
                        attempt=1,
                        started_at=now,
                        duration_ms=12,
                        status_code=200,
                        outcome="success",
                    )
                )
    finally:
        await engine.dispose()


def add_webhook_rows(data: MainnetData) -> None:
    """One webhook endpoint per tenant, with one delivered message and its attempt (`webhook_attempts` has no
    `tenant_id`: its rows are found through the endpoint id `ep_<tenant>`)."""
    asyncio.run(_webhook_rows(data.url))


def load_tenants(data: MainnetData, cold: Path) -> dict[str, str]:
    """Both tenants of the test's copy of the ingested ledgers `data` with their foundation rows, the first
    half of their history in the cold folder `cold`; returns the keys of `tests.mainnet_data` (`full`,
    `partial`, ...)."""
    asyncio.run(_foundation_rows(data.url))
    asyncio.run(_archive_first_half(data.url, cold))
    return data.keys


def cold_files_of(cold: Path, tenant: str) -> list[Path]:
    """The files under the tenant's `customer_id=` folder."""
    return sorted(p for p in (cold / f"customer_id={tenant}").rglob("*") if p.is_file())


def tenant_tables(url: str, *, partitions: bool = True) -> list[str]:
    """Every table of the database with a `tenant_id` column (PostgreSQL partitions included unless not
    `partitions`)."""
    from tests.api.helpers import sql

    if url.startswith("sqlite"):
        statement = (
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p"
            " WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name"
        )
    else:
        statement = (
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id'"
            " AND table_schema = current_schema()"
            + (
                ""
                if partitions
                else " AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)"
            )
            + " ORDER BY table_name"
        )
    return [row[0] for row in sql(url, statement)]


def rows_per_table(url: str, tenant: str, *, partitions: bool = True) -> dict[str, int]:
    """The tenant's rows in every table that has a `tenant_id` column, and its backfill checkpoints."""
    from tests.api.helpers import sql

    counts: dict[str, Any] = {
        table: sql(url, f'SELECT count(*) FROM "{table}" WHERE tenant_id = :t', t=tenant)[0][0]
        for table in tenant_tables(url, partitions=partitions)
    }
    counts["checkpoints"] = sql(
        url, "SELECT count(*) FROM checkpoints WHERE name LIKE :p", p=f"backfill:{tenant}:%"
    )[0][0]
    return {table: int(n) for table, n in counts.items()}


__all__ = ["FULL", "PARTIAL", "add_webhook_rows", "load_tenants", "rows_per_table", "tenant_tables"]
