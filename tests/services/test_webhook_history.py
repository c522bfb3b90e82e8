"""Preview and backfill of a webhook endpoint over stored history, on the 20 mainnet ledgers (both backends).

The `full` tenant's ledgers were ingested before any endpoint existed. Then:

- a preview counts the stored rows its filter matches in the ledger range (the SQL count for ``token_transfer``
  filtered to busy accounts; the test's own threshold reading for ``large_payment``), and shows the first
  payloads in row id order;
- a backfill of the first ten ledgers records exactly those messages; a second run records nothing; ingesting
  all twenty ledgers live afterwards records the rest, none twice; and every backfilled message has the id and
  bytes live recording gave the same rows for a twin endpoint (created before that ingest, never backfilled).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import orjson
import pytest

from core.errors import ClientError
from processors.registry import default_registry
from services.webhooks.events import EventCatalogue
from services.webhooks.history import backfill, preview_endpoint
from services.webhooks.recorder import outbox_for
from storage.db import create_engine
from storage.query import Query
from storage.router import QueryRouter
from storage.tenants import TenantStore
from storage.webhooks.endpoints import endpoint_by_id
from tests import corpus
from tests.mainnet_data import FIRST, FULL, LAST, MainnetData
from tests.services import webhook_data as data

CATALOGUE = EventCatalogue.from_registry(default_registry())
# Events made from rows the extractors produce (what the corpus gives as live rows); `candle_closed`'s rows are
# written by DEXVolumeProcessor's after_write, and its live recording is checked in test_webhook_outbox.py.
_DERIVED_TABLES = {t.name for p in default_registry().processors if p.extract is None for t in p.tables}
EXTRACTED_EVENTS = [e for e in CATALOGUE.names() if CATALOGUE[e].listing.table.name not in _DERIVED_TABLES]
MIDDLE = FIRST + 9


pytestmark = pytest.mark.heavy(101)


def _thresholds(transfers: list[dict[str, Any]]) -> dict[str, str]:
    """The busy accounts' most moved asset, at the median size of its movements."""
    by_asset: dict[str, list[Decimal]] = {}
    for row in transfers:
        by_asset.setdefault(row["asset"], []).append(abs(Decimal(row["amount"])))
    asset = max(by_asset, key=lambda a: len(by_asset[a]))
    return {asset: str(median(by_asset[asset]))}


async def _scenario(url: str, ledgers: Path) -> dict[str, Any]:
    batch = corpus.tenant_results(ledgers, corpus.MAINNET_20, data.plans(data.tenant_config(tenant=FULL)))
    accounts = data.busy_accounts(batch, tenant=FULL)
    thresholds = _thresholds(
        [
            row
            for result in batch
            for row in result.rows[FULL]["token_transfers"]["token_transfers"]
            if {row["from"], row["to"]} & set(accounts)
        ]
    )
    config = data.tenant_config(thresholds, tenant=FULL)
    engine = create_engine(url)
    router = QueryRouter(engine)
    found: dict[str, Any] = {"accounts": accounts, "thresholds": thresholds}
    try:
        await TenantStore(engine).update(FULL, FULL, "pubnet", config.to_document())
        events, filter = ["token_transfer", "large_payment"], {"accounts": accounts}
        for endpoint in ("ep_hist", "ep_twin"):
            await data.add_endpoint(engine, endpoint, events, filter, tenant=FULL)
        await data.add_endpoint(engine, "ep_off", events, filter, tenant=FULL, status="disabled")

        # What a preview counts: the SQL count of the filter's query over the range, per event.
        listing = CATALOGUE["token_transfer"].listing
        filters = CATALOGUE.filters_for("token_transfer", filter)
        found["sql"] = {
            (first, last): (
                await router.count(
                    Query(FULL, listing.table, filters, from_ledger=first, to_ledger=last), cap=10**7
                )
            )[0]
            for first, last in ((FIRST, LAST), (FIRST, MIDDLE))
        }
        found["preview"] = await preview_endpoint(router, CATALOGUE, "ep_hist", FIRST, LAST)
        found["preview_first"] = await preview_endpoint(router, CATALOGUE, "ep_hist", FIRST, MIDDLE)
        with pytest.raises(ClientError, match="to_ledger"):
            await preview_endpoint(router, CATALOGUE, "ep_hist", LAST, FIRST)

        found["backfill"] = await backfill(router, CATALOGUE, "ep_hist", FIRST, MIDDLE)
        found["after_backfill"] = await data.messages(engine, "ep_hist")
        found["again"] = await backfill(router, CATALOGUE, "ep_hist", FIRST, MIDDLE)
        found["off"] = await backfill(router, CATALOGUE, "ep_off", FIRST, MIDDLE)
        async with engine.connect() as conn:
            found["status"] = {ep: (await endpoint_by_id(conn, ep)).status for ep in ("ep_hist", "ep_off")}  # type: ignore[union-attr]

        # Live: every ledger ingested again with the outbox (rows already stored; the endpoints exist now).
        found["live"] = await data.ingest(engine, config, batch, outbox_for(default_registry()))
        found["messages"] = {ep: await data.messages(engine, ep) for ep in ("ep_hist", "ep_twin")}
        found["transfers"] = await _transfers(engine)
        return found
    finally:
        await engine.dispose()


async def _transfers(engine: Any) -> list[dict[str, Any]]:
    from sqlalchemy import select

    table = data.TRANSFERS
    async with engine.connect() as conn:
        rows = await conn.execute(select(table).where(table.c.tenant_id == FULL).order_by(table.c.id))
        return [dict(row) for row in rows.mappings()]


def test_preview_and_backfill_agree_with_stored_history_and_live_recording(
    mainnet_db: MainnetData, shared_ledgers: Path
) -> None:
    found = asyncio.run(_scenario(mainnet_db.url, shared_ledgers))
    accounts = set(found["accounts"])
    mine = [t for t in found["transfers"] if t["from"] in accounts or t["to"] in accounts]
    large = [t for t in mine if data.is_large(t, found["thresholds"])]
    assert large and len(large) < len(mine)

    def ids(rows: list[dict[str, Any]], last: int) -> list[str]:
        return [r["id"] for r in rows if r["ledger_sequence"] <= last]

    # Preview: counts equal the stored rows matching, by event; payloads are the first messages by row id.
    for preview, last in ((found["preview"], LAST), (found["preview_first"], MIDDLE)):
        assert preview.by_event == {
            "token_transfer": len(ids(mine, last)),
            "large_payment": len(ids(large, last)),
        }
        assert preview.by_event["token_transfer"] == found["sql"][(FIRST, last)]
        assert preview.count == sum(preview.by_event.values())
        expected_first = sorted(
            [(i, "token_transfer") for i in ids(mine, last)]
            + [(i, "large_payment") for i in ids(large, last)]
        )[:5]
        assert [(p["row_id"], p["event_type"]) for p in preview.payloads] == expected_first

    # Backfill of the first ten ledgers: exactly the preview's messages, then nothing on a second run.
    backfilled = found["after_backfill"]
    first_half = sorted(
        [f"msg_ep_hist_token_transfer_{i}" for i in ids(mine, MIDDLE)]
        + [f"msg_ep_hist_large_payment_{i}" for i in ids(large, MIDDLE)]
    )
    assert [m["id"] for m in backfilled] == first_half
    assert found["backfill"].matched == found["backfill"].recorded == len(first_half)
    assert found["again"].matched == len(first_half) and found["again"].recorded == 0
    assert found["status"] == {"ep_hist": "enabled", "ep_off": "disabled"}
    assert found["off"].recorded == len(first_half)  # a disabled endpoint's outbox still fills

    # Live afterwards: the rest, none twice; the backfilled messages are what live recording made for the twin.
    everything = sorted(
        [f"msg_ep_hist_token_transfer_{i}" for i in ids(mine, LAST)]
        + [f"msg_ep_hist_large_payment_{i}" for i in ids(large, LAST)]
    )
    hist, twin = found["messages"]["ep_hist"], found["messages"]["ep_twin"]
    assert [m["id"] for m in hist] == everything
    assert found["live"]["ep_hist"] == len(everything) - len(first_half)
    assert found["live"]["ep_twin"] == len(everything)
    as_twin = {
        m["id"].replace("msg_ep_twin_", "msg_ep_hist_"): m["payload"].replace("msg_ep_twin_", "msg_ep_hist_")
        for m in twin
    }
    for message in backfilled:
        assert message["payload"] == as_twin[message["id"]]
        assert orjson.loads(message["payload"])["event_id"] == message["id"]


def test_the_backfill_job_records_what_the_preview_counts(mainnet_pg: MainnetData, tmp_path: Path) -> None:
    from tests.api.helpers import settings_for
    from workers.jobs import JOBS

    async def run() -> tuple[Any, dict[str, Any], int]:
        engine = create_engine(mainnet_pg.url)
        try:
            await data.add_endpoint(engine, "ep_job", ["contract_event"], {}, tenant=FULL)
            previewed = await preview_endpoint(QueryRouter(engine), CATALOGUE, "ep_job", FIRST, LAST)
            ctx = {
                "engine": engine,
                "registry": default_registry(),
                "settings": settings_for(mainnet_pg.url, cold_url=str(tmp_path / "cold")),
            }
            done = await JOBS["backfill_webhook"](ctx, "ep_job", FIRST)
            return previewed, done, len(await data.messages(engine, "ep_job"))
        finally:
            await engine.dispose()

    previewed, done, stored = asyncio.run(run())
    assert previewed.count > 0
    assert done["matched"] == done["recorded"] == stored == previewed.count
    assert done["to_ledger"] is None


def test_a_backfill_reading_the_cold_tier_records_the_live_bytes(
    mainnet_pg: MainnetData, shared_ledgers: Path, tmp_path: Path
) -> None:
    """With the first half of the history archived to Parquet, a backfill of every event type reads both tiers and
    records, for every row, the bytes live recording builds from the ingested rows."""
    from services.webhooks.recorder import endpoint_messages, thresholds_of
    from storage.cold.reader import ColdReader
    from storage.cold.store import ColdStore
    from storage.webhooks.endpoints import endpoint_by_id
    from tests.services.purge_data import MIDDLE as ARCHIVED_BEFORE
    from tests.services.purge_data import load_tenants

    cold = tmp_path / "cold"
    load_tenants(mainnet_pg, cold)
    config = data.tenant_config(tenant=FULL)
    batch = corpus.tenant_results(shared_ledgers, corpus.MAINNET_20, data.plans(config))

    async def run() -> tuple[list[dict[str, Any]], dict[str, bytes], Any]:
        engine = create_engine(mainnet_pg.url)
        store = ColdStore.open(str(cold))
        reader = ColdReader(store, engine)
        try:
            await data.add_endpoint(engine, "ep_cold", EXTRACTED_EVENTS, tenant=FULL)
            done = await backfill(QueryRouter(engine, cold=reader), CATALOGUE, "ep_cold", FIRST)
            async with engine.connect() as conn:
                endpoint = await endpoint_by_id(conn, "ep_cold")
            assert endpoint is not None
            thresholds = thresholds_of(config.to_document())
            live = {
                m.id: m.payload
                for result in batch
                for m in endpoint_messages(CATALOGUE, endpoint, result.rows[FULL], thresholds)
            }
            return await data.messages(engine, "ep_cold"), live, done
        finally:
            await reader.close()
            await store.close()
            await engine.dispose()

    recorded, live, done = asyncio.run(run())
    assert done.recorded == len(recorded) == len(live) > 0
    assert any(m["ledger"] < ARCHIVED_BEFORE for m in recorded) and any(
        m["ledger"] >= ARCHIVED_BEFORE for m in recorded
    )
    mismatched = [m["id"] for m in recorded if m["payload"].encode() != live.get(m["id"])]
    assert mismatched == []
