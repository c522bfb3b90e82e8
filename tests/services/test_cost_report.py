"""The cost report on real data in both backends: the 20 mainnet ledgers of two tenants, half of their history
archived to real Parquet files; hot bytes are the table's size shared by rows, cold figures are the files'."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from sqlalchemy import event, insert
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from services.cost_report import cost_report
from storage.tables import usage_counters
from tests.api.helpers import ADMIN_TOKEN, LOOPBACK, execute, settings_for, sql
from tests.cli_runner import run_cli
from tests.mainnet_data import MainnetData
from tests.services.purge_data import FULL, PARTIAL, load_tenants

PEPPER = "pepper-for-tests"


async def _usage(url: str, cold: Path, tenant: str) -> None:
    """Three reads through the router that reach the cold tier (counted by its `on_cold_read` hook, as the app
    wires it), one that stays hot, and requests of last month."""
    from processors.registry import default_registry
    from storage.cold.reader import ColdReader
    from storage.cold.store import ColdStore
    from storage.db import create_engine
    from storage.query import Query
    from storage.router import QueryRouter
    from storage.usage import UsageCounters

    engine = create_engine(url)
    store = ColdStore.open(str(cold))
    reader = ColdReader(store, engine)
    try:
        usage = UsageCounters(engine, 0)
        router = QueryRouter(engine, cold=reader, on_cold_read=usage.record_cold_read)
        transfers = default_registry().by_name("token_transfers").tables[0]
        for _ in range(3):
            page = await router.fetch(Query(tenant, transfers, limit=5))
            assert page.sources == ("cold",)
        hot = await router.fetch(Query(tenant, transfers, limit=5, descending=True))
        assert hot.sources == ("hot",)
        await usage.flush()
        last_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(
            hours=1
        )
        async with engine.begin() as conn:  # last month's requests are not this month's
            await conn.execute(
                insert(usage_counters).values(
                    tenant_id=tenant, key_id="", bucket=last_month, kind="rest", count=1000
                )
            )
    finally:
        await reader.close()
        await store.close()
        await engine.dispose()


async def _report(
    url: str, tenant: str, statements: list[str] | None = None, **prices: Any
) -> dict[str, Any]:
    """The tenant's report; `statements` gathers the SQL it ran."""
    from processors.registry import default_registry
    from storage.db import create_engine

    engine = create_engine(url)
    if statements is not None:

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def ran(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split()))

    try:
        return await cost_report(engine, default_registry(), settings_for(url, **prices), tenant)
    finally:
        await engine.dispose()


def _table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for p in report["processors"] for t in p["tables"] if t["table"] == name)


def _table_bytes(url: str, table: str) -> int:
    """The table's bytes as the database reports them, asked independently of `storage.table_sizes`."""
    if url.startswith("sqlite"):
        statement = (
            "SELECT sum(pgsize) FROM dbstat WHERE name = :t"
            " OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
        )
    else:
        statement = (
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            " WHERE c.oid = CAST(:t AS regclass)"
            " OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = CAST(:t AS regclass))"
        )
    return int(sql(url, statement, t=table)[0][0])


def test_report_on_real_data(mainnet_db: MainnetData, tmp_path: Path) -> None:
    cold, url = tmp_path / "cold", mainnet_db.url
    load_tenants(mainnet_db, cold)
    asyncio.run(_usage(url, cold, FULL))
    postgres = url.startswith("postgresql")
    if postgres:  # the table totals are the planner's estimates: exact right after ANALYZE of a small table
        execute(url, "ANALYZE token_transfers")
    statements: list[str] = []
    report = asyncio.run(_report(url, FULL, statements))
    if postgres:
        # No count over every tenant's rows: a tenant's report only counts its own index entries.
        counts = [s for s in statements if "count(*)" in s.lower()]
        assert counts and all("tenant_id =" in s for s in counts), counts
    transfers = _table(report, "token_transfers")
    hot_rows = sql(url, "SELECT count(*) FROM token_transfers WHERE tenant_id = :t", t=FULL)[0][0]
    all_rows = sql(url, "SELECT count(*) FROM token_transfers")[0][0]
    assert transfers["hot"]["rows"] == hot_rows > 0
    # Both tenants hold the same transfers: each is attributed half of the table's bytes (by share of rows).
    assert all_rows == 2 * hot_rows
    table_bytes = _table_bytes(url, "token_transfers")
    assert transfers["hot"]["bytes"] == table_bytes * hot_rows // all_rows > 0

    # Cold: the figures of the tenant's real files (sizes on disk, rows in their Parquet footers).
    files = list((cold / f"customer_id={FULL}" / "processor=token_transfers").rglob("*.parquet"))
    assert files
    assert transfers["cold"]["bytes"] == sum(f.stat().st_size for f in files)
    assert transfers["cold"]["rows"] == sum(pq.ParquetFile(f).metadata.num_rows for f in files) > 0
    assert transfers["cold"]["files"] == len(files)
    ratio = Decimal(transfers["cold"]["raw_bytes"]) / Decimal(transfers["cold"]["bytes"])
    assert transfers["cold"]["compression_ratio"] == str(ratio.quantize(Decimal("0.01")))
    assert Decimal(transfers["cold"]["compression_ratio"]) > 1

    # Every processor of the tenant that holds rows, and totals that add up.
    assert {p["processor"] for p in report["processors"]} >= {
        "token_transfers",
        "contract_events",
        "dex_trades",
    }
    tables = [t for p in report["processors"] for t in p["tables"]]
    assert report["totals"]["hot"]["bytes"] == sum(t["hot"]["bytes"] for t in tables)
    assert report["totals"]["cold"]["bytes"] == sum(t["cold"]["bytes"] for t in tables)

    # This month: the 7 requests the loader counted (not last month's 1000), the 3 reads that reached cold.
    assert report["requests_this_month"] == 7 and report["cold_queries_this_month"] == 3
    cost = report["estimated_monthly_cost_usd"]
    gb = Decimal(10**9)
    assert Decimal(cost["requests"]) == Decimal("0.000014")  # 7 / 10^6 x $2
    assert Decimal(cost["cold_queries"]) == Decimal("0.000012")  # 3 / 1000 x $0.004
    expected_hot = Decimal(report["totals"]["hot"]["bytes"]) / gb * Decimal("0.75")
    assert Decimal(cost["hot_storage"]) == expected_hot.quantize(Decimal("0.000001"))
    parts = ("hot_storage", "cold_storage", "cold_queries", "requests")
    assert abs(Decimal(cost["total"]) - sum(Decimal(cost[p]) for p in parts)) <= Decimal("0.000002")

    # Prices come from settings.
    dearer = asyncio.run(_report(url, FULL, price_requests_per_million=Decimal("4")))
    assert Decimal(dearer["estimated_monthly_cost_usd"]["requests"]) == Decimal("0.000028")


def test_usage_routes_and_command(mainnet_pg: MainnetData, tmp_path: Path) -> None:
    url = mainnet_pg.url
    keys = load_tenants(mainnet_pg, tmp_path / "cold")
    with TestClient(build_app(settings_for(url)), client=LOOPBACK) as client:
        admin = client.get(f"/admin/tenants/{FULL}/usage", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert admin.status_code == 200, admin.text
        own = client.get(
            f"/api/v1/{FULL}/usage", headers={"Authorization": f"Bearer {keys['full_transfers_only']}"}
        )
        assert own.status_code == 200, own.text  # any valid key of the tenant, whatever its scopes
        assert _table(own.json(), "token_transfers") == _table(admin.json(), "token_transfers")
        # Computed once per `cost_report_cache_seconds` (60) for the tenant, whoever asks.
        assert own.json()["generated_at"] == admin.json()["generated_at"]
        other = client.get(f"/api/v1/{FULL}/usage", headers={"Authorization": f"Bearer {keys['partial']}"})
        assert other.status_code == 404, other.text  # as every route: another tenant's key finds no tenant
        assert client.get(f"/api/v1/{FULL}/usage").status_code == 401
        missing = client.get(
            "/admin/tenants/nobody/usage", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert missing.status_code == 404
        bearer = {"Authorization": f"Bearer {keys['full']}"}
        paths = [
            e["path"] for e in client.get(f"/api/v1/{FULL}/", headers=bearer).json()["available_endpoints"]
        ]
        assert f"/api/v1/{FULL}/usage" in paths
        assert "/usage" in client.get(f"/api/v1/{FULL}/openapi.json", headers=bearer).json()["paths"]
    env = {
        "OBSRVR_DATABASE_URL": url,
        "OBSRVR_KEY_PEPPER": PEPPER,
        "COLUMNS": "200",
        "PATH": "/usr/bin:/bin",
    }
    result = run_cli(["tenants", "usage", FULL, "--format", "json"], env)
    assert result.returncode == 0, result.stderr
    printed = _table(orjson.loads(result.stdout), "token_transfers")
    assert printed["cold"] == _table(admin.json(), "token_transfers")["cold"]
    shown = run_cli(["tenants", "usage", PARTIAL], env)
    assert shown.returncode == 0, shown.stderr
    assert "token_transfers" in shown.stdout and "estimated monthly cost: $" in shown.stdout
    assert "dex_trades" not in shown.stdout  # the partial tenant holds no trades


@pytest.mark.parametrize("fmt", ["yaml"])
def test_usage_command_refuses_a_bad_format(migrated_pg: str, fmt: str) -> None:
    env = {"OBSRVR_DATABASE_URL": migrated_pg, "OBSRVR_KEY_PEPPER": PEPPER, "PATH": "/usr/bin:/bin"}
    result = run_cli(["tenants", "usage", FULL, "--format", fmt], env, timeout=60)
    assert result.returncode == 2 and "--format" in result.stderr
