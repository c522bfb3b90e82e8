"""The webhook outbox tests' data: a tenant enabling every processor, its endpoints, and the 20 mainnet ledgers
ingested through the real engine with the outbox recording (rows from the session's one decoding,
`tests.corpus`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Network
from core.tenant_config import TenantConfig, parse_tenant_config
from ingest.engine import IngestEngine, LedgerResult, Outbox, TenantPlan, plan_tenants
from processors.registry import default_registry
from storage.tables import utcnow
from storage.tenants import TenantStore
from storage.webhooks.tables import webhook_endpoints, webhook_messages
from tests import corpus
from tests.mainnet_data import tenant_document

TENANT = "hooks-tenant"
TRANSFERS = default_registry().by_name("token_transfers").tables[0]


def tenant_config(threshold: object = "10000", tenant: str = TENANT) -> TenantConfig:
    document = tenant_document(tenant, [p.type_name for p in default_registry().catalogue().values()])
    document["customer"]["api"]["large_payment_threshold"] = threshold
    return parse_tenant_config(document, default_registry().catalogue())


async def create_tenant(engine: AsyncEngine, config: TenantConfig) -> None:
    await TenantStore(engine).create(TENANT, TENANT, "pubnet", config.to_document())


def plans(config: TenantConfig) -> list[TenantPlan]:
    return plan_tenants([config], default_registry().catalogue(), Network.pubnet)


def results(ledgers: Path, config: TenantConfig) -> list[LedgerResult]:
    return corpus.tenant_results(ledgers, corpus.MAINNET_20, plans(config))


async def add_endpoint(
    engine: AsyncEngine,
    endpoint_id: str,
    events: Sequence[str],
    filter: Mapping[str, Any] | None = None,
    *,
    tenant: str = TENANT,
    status: str = "enabled",
) -> None:
    """An endpoint row as the admin API would store it (what recording reads)."""
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            insert(webhook_endpoints).values(
                id=endpoint_id,
                tenant_id=tenant,
                url="https://receiver.example/hook",
                events=list(events),
                filter=dict(filter or {}),
                signing="hmac",
                secret="whsec_" + "A" * 32,
                ordered=True,
                max_concurrency=1,
                source="api",
                status=status,
                created_at=now,
                updated_at=now,
            )
        )


async def ingest(
    engine: AsyncEngine,
    config: TenantConfig,
    batch: Sequence[LedgerResult],
    outbox: Outbox | None,
    size: int = 5,
) -> dict[str, int]:
    """Write `batch` in transactions of `size` ledgers; returns the messages recorded per endpoint."""
    writer = IngestEngine(engine, Network.pubnet, plans=plans(config), outbox=outbox)
    recorded: Counter[str] = Counter()
    for start in range(0, len(batch), size):
        committed = await writer.write_batch(batch[start : start + size])
        recorded.update(committed.webhook_messages)
    return dict(recorded)


async def messages(engine: AsyncEngine, endpoint_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(webhook_messages)
            .where(webhook_messages.c.endpoint_id == endpoint_id)
            .order_by(webhook_messages.c.id)
        )
        return [dict(row) for row in result.mappings()]


async def forget_messages(engine: AsyncEngine, endpoint_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(webhook_messages).where(webhook_messages.c.endpoint_id == endpoint_id))


async def stored_transfers(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(TRANSFERS).where(TRANSFERS.c.tenant_id == TENANT).order_by(TRANSFERS.c.id)
        )
        return [dict(row) for row in result.mappings()]


def busy_accounts(batch: Sequence[LedgerResult], how_many: int = 3, tenant: str = TENANT) -> list[str]:
    """The accounts moving value most often in the ledgers (either side of a transfer)."""
    seen: Counter[str] = Counter()
    for result in batch:
        for row in result.rows[tenant]["token_transfers"]["token_transfers"]:
            for holder in {row["from"], row["to"]} - {None}:
                seen[holder] += 1
    return [account for account, _ in seen.most_common(how_many)]


def is_large(row: Mapping[str, Any], thresholds: Mapping[str, str]) -> bool:
    """The test's own reading of `large_payment`: |amount| at or above the asset's threshold."""
    threshold = thresholds.get(row["asset"])
    return threshold is not None and abs(Decimal(row["amount"])) >= Decimal(threshold)
