"""Backfills never reach below an archive watermark (their rows would never be served, then be deleted unseen
by the next archival): a new `start_ledger` at or below it is refused with 409 `backfill_below_archive` before
the configuration is stored, as is a live-tail jump whose gap reaches it; planning waits for the tenant's
archive lease, so a run's frontier is final while it runs. Re-ingesting archived ledgers (`obsrvr-flow ingest`,
no backfill) writes rows below the watermark that are served once (from cold) and deleted by the next run. On
real mainnet ledgers and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from core.errors import FlowError
from core.settings import Network
from core.tenant_config import parse_tenant_config
from obsrvr_flow.wiring import build_app
from processors.registry import default_registry
from services.archiving import archive_lease
from services.live import set_live_start
from storage.checkpoints import Checkpoints, LiveStarts
from storage.cold.archival import ArchiveCut
from storage.db import create_engine
from storage.jobs import UnreachableJobQueue
from storage.leases import try_lease
from tests.api.helpers import ADMIN, LOOPBACK, bearer, set_tip, settings_for, sql
from tests.mainnet_data import copy_of, filled_template, require_corpus
from tests.services.tiers import FIRST, TENANT, archive, document, load

# Minutes long (one test pages the transfers of the archived ledgers 3 rows at a time, through cold):
# started first under pytest-xdist, see tests/parallel.py `order_files`.
pytestmark = pytest.mark.heavy(65)
ARCHIVED_THROUGH = FIRST + 1  # archiving before FIRST + 2


def _doc(start: int | None = None) -> dict[str, Any]:
    doc = document()
    entry: dict[str, Any] = {"type": "TokenTransferProcessor", "enabled": True, "config": {}}
    if start is not None:
        entry["start_ledger"] = start
    doc["customer"]["processors"] = [entry]
    return doc


async def _archived(url: str, ledgers: Path, cold: Path) -> str:
    """The tenant with 4 ledgers of token transfers, those before FIRST + 2 archived; its key's secret."""
    settings = settings_for(url, cold_url=str(cold))
    secret = await load(url, ledgers, settings.pepper, _doc(), count=4)
    report = await archive(settings, TENANT, ArchiveCut(before_ledger=FIRST + 2))
    assert report.tables[0].watermark is not None
    assert report.tables[0].watermark.last_ledger == ARCHIVED_THROUGH
    return secret


@dataclass(frozen=True)
class Archived:
    """A test's own copy of the archived tenant: its database, its key's secret and its cold folder."""

    url: str
    secret: str
    cold: str


@pytest.fixture(scope="module")
def archived_template(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archived]:
    """The tenant loaded and archived once for the module (ingesting and archiving cost seconds of CPU per test,
    a copy a fraction of one): a PostgreSQL template (`url` is its name) and the cold folder every copy copies."""
    ledgers = require_corpus()
    folder = tmp_path_factory.mktemp("backfill-guard")
    cold = folder / "cold"
    secrets: list[str] = []

    def fill(url: str) -> None:
        set_tip(url, FIRST + 3)
        secrets.append(asyncio.run(_archived(url, ledgers, cold)))  # disposes its engines

    with filled_template("postgresql", pg_template, folder, "obsrvr_tmpl_backfill", fill) as source:
        yield Archived(source, secrets[0], str(cold))


@pytest.fixture
def archived(archived_template: Archived, tmp_path: Path) -> Iterator[Archived]:
    """The test's own copy of the archived tenant (database and cold files): the tests change both."""
    cold = tmp_path / "cold"
    shutil.copytree(archived_template.cold, cold)
    with copy_of("postgresql", archived_template.url, tmp_path) as url:
        yield Archived(url, archived_template.secret, str(cold))


def _put(client: TestClient, start: int) -> Any:
    return client.put(f"/admin/tenants/{TENANT}", content=yaml.safe_dump(_doc(start)), headers=ADMIN)


def _version(url: str) -> int:
    return int(sql(url, "SELECT config_version FROM tenants WHERE id = :t", t=TENANT)[0][0])


def _ranges(url: str) -> list[tuple[int, int]]:
    rows = sql(url, "SELECT start_ledger, end_ledger FROM backfill_ranges WHERE tenant_id = :t", t=TENANT)
    return sorted((int(a), int(b)) for a, b in rows)


def test_a_start_at_or_below_the_watermark_is_refused(archived: Archived) -> None:
    url, cold = archived.url, archived.cold
    version = _version(url)
    with TestClient(build_app(settings_for(url, cold_url=cold)), client=LOOPBACK) as client:
        for start in (FIRST, ARCHIVED_THROUGH):
            refused = _put(client, start)
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "backfill_below_archive"
            assert error["processor"] == "token_transfers"
            assert error["archived_through_ledger"] == ARCHIVED_THROUGH
            assert f"archived through ledger {ARCHIVED_THROUGH}" in error["message"]
            assert f"start_ledger to {ARCHIVED_THROUGH + 1} or later" in error["message"]
        assert _version(url) == version  # nothing stored: applying it again is not a no-op
        assert _ranges(url) == []

        above = _put(client, ARCHIVED_THROUGH + 1)
        assert above.status_code == 200, above.text
        assert above.json()["backfill"]["TokenTransferProcessor"]["from"] == ARCHIVED_THROUGH + 1
        assert _ranges(url) == [(ARCHIVED_THROUGH + 1, FIRST + 3)]


def test_planning_waits_for_a_running_archival(archived: Archived) -> None:
    """While a run holds the tenant's archive lease (here: this test, on its own connection), applying a new
    start plans nothing and stores nothing: 409 `archive_running` once the wait is over."""
    url, cold = archived.url, archived.cold
    version = _version(url)
    held, release = threading.Event(), threading.Event()

    async def hold() -> None:
        engine = create_engine(url)
        try:
            async with try_lease(engine, archive_lease(TENANT)) as got:
                assert got
                held.set()
                await asyncio.to_thread(release.wait)
        finally:
            await engine.dispose()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert held.wait(60)
        with TestClient(build_app(settings_for(url, cold_url=cold)), client=LOOPBACK) as client:
            busy = _put(client, ARCHIVED_THROUGH + 1)
    finally:
        release.set()
        holder.join()
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "archive_running", busy.text
    assert _version(url) == version and _ranges(url) == []


def test_a_live_jump_over_archived_ledgers_is_refused(archived: Archived) -> None:
    asyncio.run(_live_jump(archived.url))
    assert _ranges(archived.url) == []


async def _live_jump(url: str) -> None:
    registry = default_registry()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await Checkpoints(engine).set(conn, "live:pubnet", Network.pubnet.value, FIRST - 5)
        with pytest.raises(FlowError) as caught:
            await set_live_start(
                engine, registry, UnreachableJobQueue("refused"), Network.pubnet, FIRST + 10, chunk_size=10
            )
        assert caught.value.code == "backfill_below_archive" and caught.value.status == 409
        assert f"at {ARCHIVED_THROUGH + 1} or later" in caught.value.message
        assert await LiveStarts(engine).pending("pubnet") is None  # refused before the start was stored
        view = await set_live_start(
            engine,
            registry,
            UnreachableJobQueue("refused"),
            Network.pubnet,
            FIRST + 10,
            backfill_gap=False,
            chunk_size=10,
        )
        assert view["skipped"] == {"from": FIRST - 4, "to": FIRST + 9}
    finally:
        await engine.dispose()


def test_reingested_archived_ledgers_are_served_once_and_deleted_by_the_next_run(
    shared_ledgers: Path, archived: Archived
) -> None:
    url, secret, cold = archived.url, archived.secret, archived.cold
    settings = settings_for(url, cold_url=cold)
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        before = _all_ids(client, secret)
        hot = sql(url, "SELECT count(*) FROM token_transfers")[0][0]
        asyncio.run(_reingest(url, shared_ledgers))  # as `obsrvr-flow ingest` of archived ledgers
        duplicated = sql(url, "SELECT count(*) FROM token_transfers")[0][0]
        assert duplicated > hot
        assert _all_ids(client, secret) == before  # each row once: cold through the watermark, hot after

    rerun = asyncio.run(archive(settings, TENANT, ArchiveCut(before_ledger=FIRST + 2)))
    assert rerun.tables[0].deleted == duplicated - hot
    assert sql(url, "SELECT count(*) FROM token_transfers")[0][0] == hot


def _all_ids(client: TestClient, secret: str) -> list[str]:
    """Every transfer's id through the REST listing: 3 rows a page through the archived ledgers and the first
    hot ledger (every position where a re-ingested row at or below the watermark could slip into a page, the
    pages across the watermark among them), then pages of 100: a position past the watermark excludes those
    rows by itself, and small pages there were half this file's CPU without proving more."""
    ids: list[str] = []
    cursor = None
    limit = 3
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/api/v1/{TENANT}/token-transfers", params=params, headers=bearer(secret))
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [row["id"] for row in body["data"]]
        if any(row["ledger_sequence"] > ARCHIVED_THROUGH + 1 for row in body["data"]):
            limit = 100
        cursor = body["metadata"]["next_cursor"]
        if cursor is None:
            assert len(ids) == len(set(ids))
            return ids


async def _reingest(url: str, ledgers: Path) -> None:
    """Ingest the two archived ledgers again for the tenant, as the CLI's `ingest` does."""
    from ingest.engine import IngestEngine, plan_tenants
    from tests import corpus

    catalogue = default_registry().catalogue()
    config = parse_tenant_config(_doc(), catalogue)
    plans = plan_tenants([config], catalogue, Network.pubnet)
    engine = create_engine(url)
    try:
        results = corpus.tenant_results(ledgers, corpus.MAINNET_20[:2], plans)
        await IngestEngine(engine, Network.pubnet, plans=plans).write_batch(results)
    finally:
        await engine.dispose()
