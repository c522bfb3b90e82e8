"""A tenant's ingestion per processor, for the console's dashboard (`GET /api/v1/{id}/ingestion` and the admin
`GET /admin/tenants/{id}/ingestion`): the ledgers its hot rows span, the backfill of each processor (chunks,
ledgers done, ledgers/s, ETA) and how far the network's ingestion is behind the network (the age of the newest
ingested ledger's close time: the simulated and real networks close one every few seconds, so a growing age is a
tail that stopped)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.tenant_config import TenantConfig
from processors.registry import Registry
from services.onboarding import ingestion_status
from storage.checkpoints import Checkpoints
from storage.ledger_ranges import LedgerRange, stored_ranges

INGESTION_DESCRIPTION = (
    "Ingestion per processor: ledgers of its stored rows, backfill progress, ledgers/s, ETA, "
    "lag behind the network"
)


def _merged(ranges: list[LedgerRange]) -> dict[str, int] | None:
    if not ranges:
        return None
    return {"first_ledger": min(r.first for r in ranges), "last_ledger": max(r.last for r in ranges)}


async def ingestion_progress(
    engine: AsyncEngine, registry: Registry, config: TenantConfig, now: datetime
) -> dict[str, Any]:
    """The tenant's ingestion: `ingestion_status` (network positions, backfill per processor) plus, per enabled
    processor, the range of ledgers its hot rows span (`stored`, None before its first row) and its backfill,
    and `lag` (the newest ingested ledger of the network, its close time, seconds since)."""
    customer = config.customer
    network = customer.network.value
    status = await ingestion_status(engine, customer.id, network)
    enabled = registry.enabled(config)
    ranges = await stored_ranges(engine, [t for p, _ in enabled for t in p.tables], customer.id)
    backfill = status["backfill"]
    status["processors"] = [
        {
            "type": processor.type_name,
            "name": processor.name,
            "stored": _merged([ranges[t.name] for t in processor.tables if t.name in ranges]),
            "backfill": backfill.get(processor.type_name),
        }
        for processor, _ in enabled
    ]
    tip = (await Checkpoints(engine).network_tips()).get(network)
    closed_at = tip.closed_at if tip is not None else None
    status["lag"] = {
        "latest_ledger": tip.ledger if tip is not None else None,
        "latest_closed_at": closed_at.isoformat() if closed_at is not None else None,
        "seconds_behind": max(0.0, (now - closed_at).total_seconds()) if closed_at is not None else None,
    }
    return status
