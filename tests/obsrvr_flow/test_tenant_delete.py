"""`obsrvr-flow tenants delete`, run as a real process on both backends: nothing of the tenant is left in any
table with a `tenant_id` column, its keys stop working, the other tenant keeps every row, and a purge killed
(SIGKILL) in the middle resumes and completes while the id stays refused."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from core.errors import Conflict
from obsrvr_flow.wiring import build_app
from tests.api.helpers import ADMIN_TOKEN, LOOPBACK, settings_for, sql
from tests.cli_runner import run_cli
from tests.mainnet_data import MainnetData
from tests.servers import spawn_cli, stop_process, wait_until
from tests.services.purge_data import (
    FULL,
    PARTIAL,
    add_webhook_rows,
    cold_files_of,
    load_tenants,
    rows_per_table,
)

PEPPER = "pepper-for-tests"  # settings_for's, as the keys of `tests.mainnet_data` were made with


pytestmark = pytest.mark.heavy(194)


def _env(url: str, cold: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    settings = {"OBSRVR_DATABASE_URL": url, "OBSRVR_KEY_PEPPER": PEPPER, "OBSRVR_COLD_URL": str(cold)}
    return {**clean, **settings, "COLUMNS": "200", **extra}


def _delete(url: str, cold: Path, tenant: str, **extra: str) -> subprocess.CompletedProcess[str]:
    # stdin is not a terminal (/dev/null): no confirmation asked.
    return run_cli(["tenants", "delete", tenant], _env(url, cold, **extra), timeout=300)


def _assert_purged(url: str, cold: Path, before_partial: dict[str, int], partial_files: list[Path]) -> None:
    assert cold_files_of(cold, FULL) == []
    assert cold_files_of(cold, PARTIAL) == partial_files
    left = {table: n for table, n in rows_per_table(url, FULL).items() if n}
    # The one audit record of the deletion stays (on PostgreSQL also seen through its month partition), and the
    # purge's own record (id, status, counts).
    assert set(left) <= {t for t in left if t.startswith("audit_log")} | {"tenant_purges"}, left
    assert left.get("audit_log") == 1, left
    record = sql(url, "SELECT action, actor, detail FROM audit_log WHERE tenant_id = :t", t=FULL)[0]
    assert record[0] == "tenant.purged" and record[1] == "cli"
    detail = record[2] if isinstance(record[2], dict) else orjson.loads(record[2])
    assert set(detail) == {"started_at", "deleted"}, detail  # counts only: no name, no configuration
    assert detail["deleted"]["token_transfers"] > 0 and detail["deleted"]["api_keys"] == 2
    assert detail["deleted"]["cold_objects"] > 0
    assert rows_per_table(url, PARTIAL) == before_partial
    assert sql(url, "SELECT status FROM tenant_purges WHERE tenant_id = :t", t=FULL)[0][0] == "done"


def _old_key_refused(url: str, keys: dict[str, str], cold: Path) -> None:
    with TestClient(build_app(settings_for(url, cold_url=str(cold))), client=LOOPBACK) as client:
        gone = client.get(
            f"/api/v1/{FULL}/token-transfers", headers={"Authorization": f"Bearer {keys['full']}"}
        )
        assert gone.status_code == 401, gone.text
        kept = client.get(
            f"/api/v1/{PARTIAL}/token-transfers", headers={"Authorization": f"Bearer {keys['partial']}"}
        )
        assert kept.status_code == 200, kept.text
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        deleted = client.get(f"/admin/tenants/{FULL}", headers=admin)
        assert deleted.status_code == 404 and deleted.json()["error"]["code"] == "tenant_deleted"


def test_delete_purges_every_table(mainnet_db: MainnetData, tmp_path: Path) -> None:
    cold, url = tmp_path / "cold", mainnet_db.url
    keys = load_tenants(mainnet_db, cold)
    add_webhook_rows(mainnet_db)
    partial_files = cold_files_of(cold, PARTIAL)
    assert cold_files_of(cold, FULL) and partial_files
    before_full = rows_per_table(url, FULL)
    # Every table holds rows of the tenant (PostgreSQL's month partitions aside), except those the 20 ledgers
    # leave empty, the purge record and the custom-token baseline (filled when archival runs the hooks).
    empty = {"contract_data_ttl_updates", "token_balances_tokens", "token_balances_archived", "tenant_purges"}
    assert all(before_full[t] > 0 for t in rows_per_table(url, FULL, partitions=False) if t not in empty)
    before_partial = rows_per_table(url, PARTIAL)
    result = _delete(url, cold, FULL)
    assert result.returncode == 0, result.stderr
    assert f"tenant {FULL}: deleted" in result.stdout
    _assert_purged(url, cold, before_partial, partial_files)
    # The delivery log has no tenant column: it goes with the endpoint (foreign key cascade).
    attempts = "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :e"
    assert sql(url, attempts, e=f"ep_{FULL}")[0][0] == 0
    assert sql(url, attempts, e=f"ep_{PARTIAL}")[0][0] == 1
    _old_key_refused(url, keys, cold)
    again = _delete(url, cold, FULL)
    assert again.returncode == 1 and f"no tenant '{FULL}'" in again.stderr


def _progress(url: str) -> int:
    rows = sql(url, "SELECT progress FROM tenant_purges WHERE tenant_id = :t", t=FULL)
    if not rows:
        return 0
    progress = rows[0][0] if isinstance(rows[0][0], dict) else orjson.loads(rows[0][0])
    bookkeeping = ("api_keys", "backfill_ranges", "ingested_ranges")
    return sum(progress.values()) - sum(progress.get(name, 0) for name in bookkeeping)


def _create_refused(url: str) -> None:
    from storage.db import create_engine
    from storage.tenants import TenantStore

    async def create() -> None:
        engine = create_engine(url)
        try:
            await TenantStore(engine).create(FULL, "again", "pubnet", {"customer": {}})
        finally:
            await engine.dispose()

    with pytest.raises(Conflict) as refused:
        asyncio.run(create())
    assert refused.value.code == "tenant_purging"


def test_killed_purge_resumes(mainnet_db: MainnetData, tmp_path: Path) -> None:
    cold, url = tmp_path / "cold", mainnet_db.url
    load_tenants(mainnet_db, cold)
    partial_files = cold_files_of(cold, PARTIAL)
    before_partial = rows_per_table(url, PARTIAL)
    # One row per transaction: thousands of them, so the process is surely killed in the middle.
    env = _env(url, cold, OBSRVR_PURGE_BATCH_ROWS="1")
    process = spawn_cli(["tenants", "delete", FULL], env, tmp_path / "delete.log")
    try:
        wait_until(lambda: _progress(url) >= 50, 120, "the purge to delete some rows")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        stop_process(process)
    assert sql(url, "SELECT status FROM tenant_purges WHERE tenant_id = :t", t=FULL)[0][0] == "running"
    assert sum(rows_per_table(url, FULL).values()) > 0  # the kill left rows behind
    _create_refused(url)
    with TestClient(build_app(settings_for(url)), client=LOOPBACK) as client:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        running = client.get(f"/admin/tenants/{FULL}", headers=admin)
        assert running.status_code == 200 and running.json()["purge"]["status"] == "running", running.text
        assert running.json()["purge"]["progress"]["token_transfers"] > 0
    result = _delete(url, cold, FULL)
    assert result.returncode == 0, result.stderr
    _assert_purged(url, cold, before_partial, partial_files)


def test_admin_delete_queues_the_purge(mainnet_pg: MainnetData, tmp_path: Path) -> None:
    cold, url = tmp_path / "cold", mainnet_pg.url
    keys = load_tenants(mainnet_pg, cold)
    before_partial = rows_per_table(url, PARTIAL)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(build_app(settings_for(url, cold_url=str(cold))), client=LOOPBACK) as client:
        response = client.delete(f"/admin/tenants/{FULL}", headers=admin)
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        assert body["purge"]["status"] == "running" and body["job"]["queued"] is True
        # Access ended with the 202, before the purge job ran.
        gone = client.get(
            f"/api/v1/{FULL}/token-transfers", headers={"Authorization": f"Bearer {keys['full']}"}
        )
        assert gone.status_code == 401

        def deleted() -> bool:
            return client.get(f"/admin/tenants/{FULL}", headers=admin).status_code == 404

        wait_until(deleted, 120, "the queued purge to finish")
        assert client.delete(f"/admin/tenants/{FULL}", headers=admin).status_code == 404
        # Once the purge is done the id may be used again.
        created = client.post("/admin/tenants", headers=admin, content=_tenant_yaml(FULL))
        assert created.status_code == 201, created.text
    left = {t: n for t, n in rows_per_table(url, FULL).items() if n and not t.startswith("audit_log")}
    assert left == {"api_keys": 1, "tenant_purges": 1}, left  # the new tenant's first key
    assert rows_per_table(url, PARTIAL) == before_partial
    assert cold_files_of(cold, FULL) == [] and cold_files_of(cold, PARTIAL)


def _tenant_yaml(tenant: str) -> str:
    return (
        f"customer:\n  id: {tenant}\n  name: again\n  network: pubnet\n"
        "  processors:\n    - type: TokenTransferProcessor\n      enabled: true\n"
    )


def test_admin_create_is_refused_while_purging(migrated_pg: str) -> None:
    from sqlalchemy import insert

    from storage.db import create_engine
    from storage.purges import tenant_purges
    from storage.tables import utcnow

    async def purging() -> None:
        engine = create_engine(migrated_pg)
        try:
            now = utcnow()
            async with engine.begin() as conn:
                await conn.execute(
                    insert(tenant_purges).values(
                        tenant_id="gone",
                        status="running",
                        actor="cli",
                        progress={},
                        completed=[],
                        started_at=now,
                        updated_at=now,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(purging())
    with TestClient(build_app(settings_for(migrated_pg)), client=LOOPBACK) as client:
        refused = client.post(
            "/admin/tenants", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, content=_tenant_yaml("gone")
        )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "tenant_purging", refused.text
    assert sys.executable  # the CLI runs under this interpreter (tests.servers.CLI)
