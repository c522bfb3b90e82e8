"""Backfill and the ingestion engine end to end: the admin API plans chunks, jobs ingest real mainnet ledgers
into PostgreSQL (in-process runner here; real arq workers in test_crash_safety.py), and progress is reported."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import ADMIN, LOOPBACK, set_tip, settings_for, sql

FIRST, LAST = 63092982, 63093001


pytestmark = pytest.mark.heavy(137)


def tenant_doc(tenant_id: str, start: int | None, **processor_configs: dict[str, Any]) -> str:
    processors = [
        {"type": "TokenTransferProcessor", "start_ledger": start, "config": processor_configs.get("tt", {})},
        {"type": "ContractEventProcessor", "start_ledger": start, "config": processor_configs.get("ce", {})},
    ]
    for p in processors:
        if p["start_ledger"] is None:
            del p["start_ledger"]
    doc = {"customer": {"id": tenant_id, "name": tenant_id, "network": "pubnet", "processors": processors}}
    return str(yaml.safe_dump(doc))


@pytest.fixture
def wallet_backend(shared_ledgers: Path) -> Path:
    return shared_ledgers / "wallet-backend"


def test_enabling_with_start_ledger_backfills(migrated_pg: str, wallet_backend: Path) -> None:
    set_tip(migrated_pg, LAST)
    settings = settings_for(migrated_pg, pubnet_source=str(wallet_backend), backfill_chunk_ledgers=6)
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        response = client.post("/admin/tenants", content=tenant_doc("wallet-a", FIRST), headers=ADMIN)
        assert response.status_code == 201, response.text
        backfill = response.json()["backfill"]
        assert backfill["TokenTransferProcessor"] == {
            "status": "queued",
            "from": FIRST,
            "to": LAST,
            "jobs": 4,
        }
        client.portal.call(client.app.state.flow.backends.jobs.drain)  # type: ignore[attr-defined]

        status = client.get("/admin/tenants/wallet-a/ingestion", headers=ADMIN).json()
        total = status["backfill_total"]
        assert (total["ranges_done"], total["ranges_total"], total["ranges_failed"]) == (4, 4, 0)
        assert total["ledgers_done"] == total["ledgers_total"] == LAST - FIRST + 1
        assert status["backfill"]["ContractEventProcessor"]["ranges_done"] == 4
        # The four chunks' ranges, recorded with their rows, read as one range per processor.
        assert status["ingested"] == {
            "ContractEventProcessor": [[FIRST, LAST]],
            "TokenTransferProcessor": [[FIRST, LAST]],
        }

        # Enabling the same again (same start) plans nothing new, and re-queueing finds nothing unfinished.
        again = client.put("/admin/tenants/wallet-a", content=tenant_doc("wallet-a", FIRST), headers=ADMIN)
        assert again.json()["backfill"] == {}
        assert client.post("/admin/tenants/wallet-a/backfill", headers=ADMIN).json() == {"requeued": 0}

    ledgers = sql(migrated_pg, "SELECT DISTINCT ledger_sequence FROM contract_events ORDER BY 1")
    assert [r[0] for r in ledgers] == list(range(FIRST, LAST + 1))
    # The README's figure for these 20 ledgers: 7,440 contract events (the processor keeps them all here).
    counts = sql(migrated_pg, "SELECT type, count(*) FROM contract_events GROUP BY type")
    assert dict(counts)["contract"] == 7440
    fees = sql(migrated_pg, "SELECT count(*) FROM token_transfers WHERE event_type = 'fee'")
    assert fees[0][0] > 0


def test_backfill_resumes_from_its_checkpoint_and_rewrites_nothing(
    migrated_pg: str, wallet_backend: Path
) -> None:
    set_tip(migrated_pg, FIRST + 9)
    settings = settings_for(migrated_pg, pubnet_source=str(wallet_backend), backfill_chunk_ledgers=10)
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        client.post("/admin/tenants", content=tenant_doc("wallet-b", FIRST), headers=ADMIN)
        client.portal.call(client.app.state.flow.backends.jobs.drain)  # type: ignore[attr-defined]
    before = sql(migrated_pg, "SELECT id, tenant_id, event_type, amount_raw FROM token_transfers ORDER BY id")

    async def rerun() -> dict[str, Any]:
        from workers.ingest_jobs import backfill_range
        from workers.worker import close_job_context, job_context

        ctx = await job_context(settings)
        ctx["pubsub"] = None
        try:
            # A retry of the finished chunk: its checkpoint says everything is written.
            return await backfill_range(
                ctx, "wallet-b", FIRST, FIRST + 9, ["ContractEventProcessor", "TokenTransferProcessor"]
            )
        finally:
            await close_job_context(ctx)

    assert asyncio.run(rerun()) == {"ledgers": 0, "resumed_from": FIRST + 10}
    assert (
        sql(migrated_pg, "SELECT id, tenant_id, event_type, amount_raw FROM token_transfers ORDER BY id")
        == before
    )


def test_backfill_without_a_tip_is_deferred_then_planned(migrated_pg: str, wallet_backend: Path) -> None:
    """Before any ledger of the network is ingested a backfill has no end: it is recorded as deferred, and the
    `resume_backfills` cron plans it once the first ledger is in (here the tip is set by hand)."""
    settings = settings_for(migrated_pg, pubnet_source=str(wallet_backend), backfill_chunk_ledgers=4)
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        jobs = client.app.state.flow.backends.jobs  # type: ignore[attr-defined]
        response = client.post("/admin/tenants", content=tenant_doc("wallet-c", FIRST), headers=ADMIN)
        assert response.json()["backfill"]["TokenTransferProcessor"]["status"] == "deferred"
        waiting = client.get("/admin/tenants/wallet-c/ingestion", headers=ADMIN).json()["backfill_total"]
        assert (waiting["ranges_deferred"], waiting["ledgers_total"]) == (1, 0)
        assert client.post("/admin/tenants/wallet-c/backfill", headers=ADMIN).json() == {"requeued": 0}

        client.portal.call(lambda: jobs.enqueue("resume_backfills", job_id="resume-1"))
        client.portal.call(jobs.drain)
        still = client.get("/admin/tenants/wallet-c/ingestion", headers=ADMIN).json()["backfill_total"]
        assert still["ranges_deferred"] == 1  # no tip yet: nothing to plan

        # Token transfers now start two ledgers later: their deferred backfill moves, contract events' stays.
        moved = yaml.safe_load(tenant_doc("wallet-c", FIRST))
        moved["customer"]["processors"][0]["start_ledger"] = FIRST + 2
        update = client.put("/admin/tenants/wallet-c", content=yaml.safe_dump(moved), headers=ADMIN)
        assert update.json()["backfill"] == {
            "TokenTransferProcessor": update.json()["backfill"]["TokenTransferProcessor"]
        }
        waiting = client.get("/admin/tenants/wallet-c/ingestion", headers=ADMIN).json()["backfill"]
        assert waiting["TokenTransferProcessor"]["ranges_deferred"] == 1
        assert waiting["ContractEventProcessor"]["ranges_deferred"] == 1

        set_tip(migrated_pg, FIRST + 7)
        client.portal.call(lambda: jobs.enqueue("resume_backfills", job_id="resume-2"))
        client.portal.call(jobs.drain)
        done = client.get("/admin/tenants/wallet-c/ingestion", headers=ADMIN).json()["backfill_total"]
    assert done["ranges_deferred"] == done["ranges_failed"] == 0
    assert done["ranges_done"] == done["ranges_total"] == 4  # 8 ledgers of events, 6 of transfers, by 4
    transfers = sql(migrated_pg, "SELECT DISTINCT ledger_sequence FROM token_transfers ORDER BY 1")
    assert [r[0] for r in transfers] == list(range(FIRST + 2, FIRST + 8))
    events = sql(migrated_pg, "SELECT DISTINCT ledger_sequence FROM contract_events ORDER BY 1")
    assert [r[0] for r in events] == list(range(FIRST, FIRST + 8))


def test_long_tenant_ids_and_processor_sets_fit_the_checkpoint(
    migrated_pg: str, wallet_backend: Path
) -> None:
    tenant_id = "t" + "x" * 63  # the longest id a tenant may have
    set_tip(migrated_pg, FIRST + 1)
    settings = settings_for(migrated_pg, pubnet_source=str(wallet_backend), backfill_chunk_ledgers=2)
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        assert (
            client.post("/admin/tenants", content=tenant_doc(tenant_id, FIRST), headers=ADMIN).status_code
            == 201
        )
        client.portal.call(client.app.state.flow.backends.jobs.drain)  # type: ignore[attr-defined]
        status = client.get(f"/admin/tenants/{tenant_id}/ingestion", headers=ADMIN).json()
    assert status["backfill_total"]["ranges_done"] == 1, status
    names = [r[0] for r in sql(migrated_pg, "SELECT name FROM checkpoints WHERE name LIKE 'backfill:%'")]
    assert names and all(len(name) <= 128 for name in names)


def test_failed_chunks_are_retried_after_their_back_off(
    migrated_pg: str, wallet_backend: Path, tmp_path: Path
) -> None:
    """A chunk that failed (here: its ledgers were not in the source) is re-enqueued by the retry cron once its
    back-off has passed, resumes, and completes; before the back-off, or past the attempt limit, it waits."""
    from datetime import timedelta

    from storage.backfill import BackfillStore
    from storage.tables import utcnow

    set_tip(migrated_pg, FIRST + 5)
    empty = tmp_path / "empty-datastore"
    empty.mkdir()
    broken = settings_for(migrated_pg, pubnet_source=str(empty), backfill_chunk_ledgers=3)
    with TestClient(build_app(broken), client=LOOPBACK) as client:
        client.post("/admin/tenants", content=tenant_doc("wallet-r", FIRST), headers=ADMIN)
        client.portal.call(client.app.state.flow.backends.jobs.drain)  # type: ignore[attr-defined]
        failed = client.get("/admin/tenants/wallet-r/ingestion", headers=ADMIN).json()["backfill_total"]
    assert (failed["ranges_failed"], failed["ranges_done"]) == (2, 0)
    assert failed["last_error"]

    fixed = settings_for(migrated_pg, pubnet_source=str(wallet_backend), backfill_chunk_ledgers=3)
    with TestClient(build_app(fixed), client=LOOPBACK) as client:
        state = client.app.state.flow  # type: ignore[attr-defined]
        store = BackfillStore(state.engine)

        def retry(**kwargs: Any) -> list[Any]:
            return list(client.portal.call(lambda: store.retry_failed(state.backends.jobs, **kwargs)))

        assert retry(max_attempts=8) == []  # just failed: the back-off (2 minutes after one attempt) runs
        assert retry(max_attempts=1, now=utcnow() + timedelta(hours=2)) == []  # out of attempts
        assert len(retry(max_attempts=8, now=utcnow() + timedelta(minutes=3))) == 2
        client.portal.call(state.backends.jobs.drain)
        done = client.get("/admin/tenants/wallet-r/ingestion", headers=ADMIN).json()["backfill_total"]
    assert (done["ranges_done"], done["ranges_failed"], done["last_error"]) == (2, 0, None)
    ledgers = sql(migrated_pg, "SELECT DISTINCT ledger_sequence FROM token_transfers ORDER BY 1")
    assert [r[0] for r in ledgers] == list(range(FIRST, FIRST + 6))
