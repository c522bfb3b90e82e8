"""The cost report (the seed's "Cost Optimization", REFERENCE §6c): what one tenant stores and uses, and what
that would cost a month at the prices in settings.

Per processor and table: rows and bytes hot (`storage.table_sizes`: the table's size attributed by the tenant's
share of its rows) and cold (the manifest `cold_files`: object bytes, and the uncompressed size of their column
chunks, whose ratio is the Parquet compression ratio); requests and cold queries of the current UTC month
(`usage_counters`; cold queries are the `cold_query` kind the router's hook records, not requests).

The estimate: hot GB x hot $/GB-month + cold GB x cold $/GB-month + cold queries / 1000 x $ per 1000 + requests
/ 10^6 x $ per million, GB = 10^9 bytes, storage at today's size, requests and cold queries of the month so far
(not projected to the month's end). Money is exact (`Decimal`), shown as strings rounded to a millionth of a
dollar; the compression ratio to a hundredth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from processors.registry import Registry
from storage.cold.manifest import ColdTotals, cold_totals
from storage.table_sizes import hot_shares
from storage.tables import utcnow
from storage.usage import COLD_QUERY_KIND, usage_totals

GB = Decimal(10**9)
CENT_FRACTION = Decimal("0.000001")


@dataclass(frozen=True)
class TableUsage:
    processor: str
    table: str
    hot_rows: int
    hot_bytes: int
    cold_rows: int = 0
    cold_bytes: int = 0
    cold_raw_bytes: int = 0
    cold_files: int = 0


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def money(value: Decimal) -> str:
    return str(value.quantize(CENT_FRACTION, rounding=ROUND_HALF_UP))


def compression_ratio(raw_bytes: int, stored_bytes: int) -> str | None:
    """Uncompressed column bytes per stored byte ("4.20" = the files take a 4.2th of the raw size)."""
    if not stored_bytes:
        return None
    return str((Decimal(raw_bytes) / Decimal(stored_bytes)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _sums(items: Iterable[TableUsage]) -> dict[str, Any]:
    rows = list(items)
    cold_bytes = sum(t.cold_bytes for t in rows)
    cold_raw = sum(t.cold_raw_bytes for t in rows)
    return {
        "hot": {"rows": sum(t.hot_rows for t in rows), "bytes": sum(t.hot_bytes for t in rows)},
        "cold": {
            "rows": sum(t.cold_rows for t in rows),
            "bytes": cold_bytes,
            "raw_bytes": cold_raw,
            "files": sum(t.cold_files for t in rows),
            "compression_ratio": compression_ratio(cold_raw, cold_bytes),
        },
    }


async def table_usage(engine: AsyncEngine, registry: Registry, tenant_id: str) -> list[TableUsage]:
    """The tenant's rows and bytes of every processor table, hot and cold, in registry order."""
    owners = {table.name: p.name for p, table in registry.tables() if "tenant_id" in table.c}
    tables = [table for p, table in registry.tables() if "tenant_id" in table.c]
    async with engine.connect() as conn:
        shares = await hot_shares(conn, tables, tenant_id)
        cold = await cold_totals(conn, tenant_id)
    usage = []
    for share in shares:
        archived = cold.get(share.table, ColdTotals(0, 0, 0, 0))
        usage.append(
            TableUsage(
                processor=owners[share.table],
                table=share.table,
                hot_rows=share.tenant_rows,
                hot_bytes=share.tenant_bytes,
                cold_rows=archived.rows,
                cold_bytes=archived.bytes,
                cold_raw_bytes=archived.raw_bytes,
                cold_files=archived.files,
            )
        )
    return usage


async def cost_report(
    engine: AsyncEngine,
    registry: Registry,
    settings: Settings,
    tenant_id: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The tenant's cost report (see the module docstring), as JSON-ready values."""
    moment = now or utcnow()
    start = month_start(moment)
    tables = await table_usage(engine, registry, tenant_id)
    kinds = await usage_totals(engine, tenant_id, start)
    cold_queries = kinds.pop(COLD_QUERY_KIND, 0)
    requests = sum(kinds.values())
    processors = []
    for name in dict.fromkeys(t.processor for t in tables):
        own = [t for t in tables if t.processor == name]
        if not any(t.hot_rows or t.cold_rows for t in own):
            continue  # a processor that holds nothing of the tenant costs nothing
        processors.append(
            {
                "processor": name,
                **_sums(own),
                "tables": [{"table": t.table, **_sums([t])} for t in own],
            }
        )
    totals = _sums(tables)
    costs = {
        "hot_storage": Decimal(totals["hot"]["bytes"]) / GB * settings.price_hot_gb_month,
        "cold_storage": Decimal(totals["cold"]["bytes"]) / GB * settings.price_cold_gb_month,
        "cold_queries": Decimal(cold_queries) / 1000 * settings.price_cold_queries_per_1000,
        "requests": Decimal(requests) / 10**6 * settings.price_requests_per_million,
    }
    return {
        "tenant_id": tenant_id,
        "month": start.strftime("%Y-%m"),
        "generated_at": moment.isoformat(),
        "processors": processors,
        "totals": totals,
        "requests_this_month": requests,
        "requests_by_kind": kinds,
        "cold_queries_this_month": cold_queries,
        "prices_usd": {
            "hot_gb_month": str(settings.price_hot_gb_month),
            "cold_gb_month": str(settings.price_cold_gb_month),
            "cold_queries_per_1000": str(settings.price_cold_queries_per_1000),
            "requests_per_million": str(settings.price_requests_per_million),
        },
        "estimated_monthly_cost_usd": {
            **{part: money(value) for part, value in costs.items()},
            "total": money(sum(costs.values(), Decimal(0))),
        },
    }
