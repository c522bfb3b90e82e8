"""Archival runs by itself on each tenant's `archive_schedule`: a real arq worker (burst, real Redis) and the
embedded mode's in-process runner archive a due tenant without anyone calling archive; the admin API queues a
run (202) that the runner carries out with the body's processor and cut-off, and refuses bad input naming it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from arq.worker import Worker
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from services.archiving import scheduled_job_id
from storage.jobs import InProcessJobQueue
from tests.api.helpers import ADMIN, settings_for, sql
from tests.servers import wait_until
from tests.services.tiers import FIRST, TENANT, document, load
from tests.workers.test_arq_worker import settings_for as redis_settings_for
from workers.jobs import JOBS
from workers.worker import close_job_context, job_context, worker_settings

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")

LEDGERS = 3
# Due every minute, and every ingested row is past the hot retention (the ledgers closed months before).
DUE = {"archive_schedule": "* * * * *", "hot_retention_days": 1}
NEVER_DUE = {"archive_schedule": "0 0 29 2 *"}


def _watermarks(url: str) -> dict[str, int]:
    rows = sql(url, "SELECT table_name, last_ledger FROM archive_watermarks WHERE tenant_id = :t", t=TENANT)
    return {str(table): int(ledger) for table, ledger in rows}


def _archived_everything(url: str) -> None:
    marks = _watermarks(url)
    assert set(marks) == {
        "token_transfers",
        "contract_events",
        "account_balances",
        "dex_trades",
        "contract_data",
    }
    assert all(ledger == FIRST + LEDGERS - 1 for ledger in marks.values()), marks
    assert sql(url, "SELECT count(*) FROM token_transfers WHERE tenant_id = :t", t=TENANT)[0][0] == 0


async def test_a_real_arq_worker_archives_a_due_tenant_by_itself(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None, shared_ledgers: Path, tmp_path: Path
) -> None:
    settings = redis_settings_for(migrated_pg, redis_prefix, cold_url=str(tmp_path / "cold"))
    await load(migrated_pg, shared_ledgers, settings.pepper, document(**DUE), count=LEDGERS)
    worker = Worker(
        **worker_settings(settings, burst=True), burst=True, handle_signals=False, poll_delay=0.05
    )
    try:
        await worker.async_run()  # the schedule cron runs at start-up, then the run it enqueued
    finally:
        await worker.close()
    assert worker.jobs_failed == 0
    await asyncio.to_thread(_archived_everything, migrated_pg)
    assert list((tmp_path / "cold").rglob(f"customer_id={TENANT}/processor=token_transfers/*/*/*.parquet"))


async def test_the_schedule_enqueues_each_due_run_once(migrated_sqlite: str, shared_ledgers: Path) -> None:
    settings = settings_for(migrated_sqlite)
    await load(migrated_sqlite, shared_ledgers, settings.pepper, document(**DUE), count=1)
    await load(
        migrated_sqlite, shared_ledgers, settings.pepper, document("other-tenant", **NEVER_DUE), count=0
    )
    ctx = await job_context(settings)
    queue = InProcessJobQueue({"archive_tenant": _noop}, ctx)
    ctx["jobs"] = queue
    try:
        first = await JOBS["schedule_archives"](ctx)
        again = await JOBS["schedule_archives"](ctx)
    finally:
        await queue.close()
        await close_job_context(ctx)
    assert len(first) == 1 and first[0].startswith(f"archive:{TENANT}:")  # the other tenant is not due
    assert again == []  # the same scheduled time: refused by its job id


async def _noop(ctx: dict[str, Any], *args: Any) -> None:
    return None


def test_scheduled_job_ids_name_the_tenant_and_the_minute() -> None:
    from datetime import UTC, datetime

    assert scheduled_job_id("acme", datetime(2026, 3, 1, 2, 0, tzinfo=UTC)) == "archive:acme:20260301T0200"


def test_the_embedded_mode_archives_a_due_tenant_by_itself(
    migrated_sqlite: str, shared_ledgers: Path, tmp_path: Path
) -> None:
    settings = settings_for(migrated_sqlite, cold_url=str(tmp_path / "cold"))
    asyncio.run(load(migrated_sqlite, shared_ledgers, settings.pepper, document(**DUE), count=LEDGERS))
    with TestClient(build_app(settings)):
        wait_until(lambda: len(_watermarks(migrated_sqlite)) == 5, 60, "the scheduled archival")
    _archived_everything(migrated_sqlite)


def test_the_admin_api_queues_an_archival(migrated_pg: str, shared_ledgers: Path, tmp_path: Path) -> None:
    settings = settings_for(migrated_pg, cold_url=str(tmp_path / "cold"))
    asyncio.run(load(migrated_pg, shared_ledgers, settings.pepper, document(**NEVER_DUE), count=LEDGERS))
    with TestClient(build_app(settings)) as client:

        def post(tenant: str, body: dict[str, Any]) -> Any:
            return client.post(f"/admin/tenants/{tenant}/archive", json=body, headers=ADMIN)

        assert post("no-such-tenant", {}).status_code == 404
        for body, code, named in (
            ({"before": "yesterday"}, "invalid_before", "before"),
            ({"before": True}, "invalid_body", "before"),
            ({"processor": "no_such_processor"}, "invalid_processor", "no_such_processor"),
            ({"processor": 7}, "invalid_body", "processor"),
            ({"colour": "red"}, "invalid_body", "colour"),
        ):
            response = post(TENANT, body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["error"]["code"] == code and named in response.json()["error"]["message"]
        assert sql(migrated_pg, "SELECT count(*) FROM archive_watermarks")[0][0] == 0

        response = post(TENANT, {"processor": "token_transfers", "before": FIRST + 1})
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued" and response.json()["job_id"].startswith(
            f"archive:{TENANT}:"
        )
        wait_until(lambda: _watermarks(migrated_pg), 60, "the queued archival")
        assert _watermarks(migrated_pg) == {"token_transfers": FIRST}  # that processor, before that ledger
