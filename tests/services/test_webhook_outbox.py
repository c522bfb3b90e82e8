"""Webhook messages are recorded in the ingest transaction, on the 20 mainnet ledgers, both backends.

A tenant enabling every processor has three endpoints: ``token_transfer`` filtered to the three busiest
accounts, ``large_payment`` with a per-asset threshold map, and every event type unfiltered. The ledgers go
through the real ingest engine five a transaction with the outbox recording; the test checks, against the stored
rows read back (and the REST API for transfers):

- each endpoint's messages are exactly the stored rows its filter matches (ids, count; the SQL query agrees);
- a batch whose transaction fails after its messages were written leaves neither rows nor messages;
- re-ingesting every ledger records nothing new;
- payloads have the contract's shape, and ``data`` is the row as the REST API shows it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

import orjson
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.testclient import TestClient

from api.rest_rows import JSON_OPTIONS, render_rows, table_string_fields
from obsrvr_flow.wiring import build_app
from processors.registry import default_registry
from services.webhooks.events import EventCatalogue
from services.webhooks.recorder import outbox_for
from storage.api_keys import ApiKeyStore
from storage.db import create_engine
from storage.query import Query
from storage.router import QueryRouter
from storage.webhooks.tables import webhook_messages
from tests.api.helpers import LOOPBACK, bearer, settings_for
from tests.services import webhook_data as data
from tests.services.webhook_data import TENANT

PAYLOAD_KEYS = [
    "event_id",
    "event_type",
    "timestamp",
    "tenant_id",
    "ledger_sequence",
    "transaction_hash",
    "row_id",
    "data",
]
CATALOGUE = EventCatalogue.from_registry(default_registry())


pytestmark = pytest.mark.heavy(272)


def _thresholds(ledgers: Path) -> dict[str, str]:
    """A per-asset map: the two most moved assets, each at the median size of its movements."""
    amounts: dict[str, list[Decimal]] = {}
    for result in data.results(ledgers, data.tenant_config()):
        for row in result.rows[TENANT]["token_transfers"]["token_transfers"]:
            amounts.setdefault(row["asset"], []).append(abs(Decimal(row["amount"])))
    busiest = sorted(amounts, key=lambda asset: -len(amounts[asset]))[:2]
    return {asset: str(median(amounts[asset])) for asset in busiest}


class FailingOutbox:
    """Records like the real outbox, then fails inside the transaction (a fault after the messages are
    written)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def record(
        self, conn: AsyncConnection, rows: Any, tables: Mapping[str, Table]
    ) -> Mapping[str, int]:
        recorded = await self.inner.record(conn, rows, tables)
        assert recorded, "the failing batch should have had messages to lose"
        raise RuntimeError("injected fault after recording")


async def _count(conn: AsyncConnection, table: Any, *where: Any) -> int:
    return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def _scenario(url: str, ledgers: Path, thresholds: dict[str, str]) -> dict[str, Any]:
    config = data.tenant_config(thresholds)
    batch = data.results(ledgers, config)
    accounts = data.busy_accounts(batch)
    events = CATALOGUE.names()
    engine = create_engine(url)
    try:
        await data.create_tenant(engine, config)
        await data.add_endpoint(engine, "ep_accounts", ["token_transfer"], {"accounts": accounts})
        await data.add_endpoint(engine, "ep_large", ["large_payment"])
        await data.add_endpoint(engine, "ep_all", events)
        outbox = outbox_for(default_registry())
        first = await data.ingest(engine, config, batch[:10], outbox)

        # A batch failing after its messages were written: neither its rows nor its messages stay.
        failed_from = batch[10].sequence
        with pytest.raises(RuntimeError, match="injected"):
            await data.ingest(engine, config, batch[10:15], FailingOutbox(outbox))
        async with engine.connect() as conn:
            assert await _count(conn, data.TRANSFERS, data.TRANSFERS.c.ledger_sequence >= failed_from) == 0
            assert await _count(conn, webhook_messages, webhook_messages.c.ledger >= failed_from) == 0
            assert await _count(conn, webhook_messages) == sum(first.values())

        rest = await data.ingest(engine, config, batch[10:], outbox)
        async with engine.connect() as conn:
            total = await _count(conn, webhook_messages)
        # Re-ingesting every ledger records nothing new.
        assert await data.ingest(engine, config, batch, outbox) == {}
        async with engine.connect() as conn:
            assert await _count(conn, webhook_messages) == total

        # The SQL query of the accounts endpoint's filter (what a preview counts).
        filters = CATALOGUE.filters_for("token_transfer", {"accounts": accounts})
        listing = CATALOGUE["token_transfer"].listing
        sql_count, exact = await QueryRouter(engine).count(Query(TENANT, listing.table, filters), cap=10**7)
        assert exact
        stored = {name: await _stored(engine, CATALOGUE[name].listing.table) for name in events}
        router = QueryRouter(engine)
        unfiltered = {name: await _sql_ids(router, name, {}) for name in events}
        key = (await ApiKeyStore(engine, settings_for(url).pepper).create(TENANT)).secret
        return {
            "accounts": accounts,
            "recorded": Counter(first) + Counter(rest),
            "sql_count": sql_count,
            "stored": stored,
            "unfiltered": unfiltered,
            "messages": {ep: await data.messages(engine, ep) for ep in ("ep_accounts", "ep_large", "ep_all")},
            "key": key,
        }
    finally:
        await engine.dispose()


async def _sql_ids(router: QueryRouter, event: str, filter: dict[str, Any]) -> list[str]:
    """The ids of the rows the event's listing query returns with `filter`, in order (SQL)."""
    listing = CATALOGUE[event].listing
    query: Query | None = Query(TENANT, listing.table, CATALOGUE.filters_for(event, filter), limit=200)
    ids: list[str] = []
    while query is not None:
        page = await router.fetch(query)
        ids.extend(row["id"] for row in page.rows)
        query = page.next_query()
    return ids


async def _stored(engine: Any, table: Table) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if c.name != "tenant_id"]
    async with engine.connect() as conn:
        result = await conn.execute(select(*columns).where(table.c.tenant_id == TENANT).order_by(table.c.id))
        return [dict(row) for row in result.mappings()]


def _rest_transfers(client: TestClient, key: str) -> dict[str, dict[str, Any]]:
    """Every token transfer of the tenant as the REST API shows it, by id."""
    rows: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/api/v1/{TENANT}/token-transfers", params=params, headers=bearer(key))
        assert response.status_code == 200, response.text
        body = response.json()
        rows.update({row["id"]: row for row in body["data"]})
        cursor = body["metadata"]["next_cursor"]
        if cursor is None:
            return rows


def _rendered(table: Table, row: dict[str, Any]) -> Any:
    """`row` through the REST API's own rendering and JSON encoding."""
    return orjson.loads(
        orjson.dumps(render_rows([dict(row)], table_string_fields(table))[0], option=JSON_OPTIONS)
    )


def test_messages_are_recorded_with_their_rows_exactly_once(
    migrated_db_url: str, shared_ledgers: Path
) -> None:
    thresholds = _thresholds(shared_ledgers)
    found = asyncio.run(_scenario(migrated_db_url, shared_ledgers, thresholds))
    transfers = found["stored"]["token_transfer"]
    messages = found["messages"]

    # Every endpoint's messages are exactly the stored rows its filter matches.
    accounts = set(found["accounts"])
    matching = [r["id"] for r in transfers if r["from"] in accounts or r["to"] in accounts]
    assert matching and found["sql_count"] == len(matching)
    assert [m["row_id"] for m in messages["ep_accounts"]] == matching
    large = [r["id"] for r in transfers if data.is_large(r, thresholds)]
    assert large and len(large) < len(transfers)
    assert [m["row_id"] for m in messages["ep_large"]] == large
    every = messages["ep_all"]
    for event in CATALOGUE.names():
        # The listing's query without filters (its defaults: balance history leaves out deleted entries).
        expected = found["unfiltered"][event]
        if event == "large_payment":  # unfiltered, it still takes only transfers at or above the threshold
            expected = large
        assert expected, event
        assert [m["row_id"] for m in every if m["event_type"] == event] == expected, event
    assert {ep: len(ms) for ep, ms in messages.items()} == dict(found["recorded"])

    # Ids and payloads.
    settings = settings_for(migrated_db_url)
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        rest = _rest_transfers(client, found["key"])
    assert len(rest) == len(transfers)
    stored_by_id = {event: {r["id"]: r for r in rows} for event, rows in found["stored"].items()}
    for endpoint, recorded in messages.items():
        for message in recorded:
            event, row_id = message["event_type"], message["row_id"]
            body = orjson.loads(message["payload"])
            assert message["id"] == f"msg_{endpoint}_{event}_{row_id}"
            assert list(body) == PAYLOAD_KEYS
            assert body["event_id"] == message["id"] and body["event_type"] == event
            assert body["tenant_id"] == TENANT and body["row_id"] == row_id
            row = stored_by_id[event][row_id]
            assert body["ledger_sequence"] == row["ledger_sequence"] == message["ledger"]
            assert body["transaction_hash"] == row.get("tx_hash")  # a closed candle has none: null
            assert body["timestamp"] == row["closed_at"].isoformat().replace("+00:00", "Z")
            shown = dict(body["data"])
            if event == "large_payment":
                assert shown.pop("threshold_exceeded") is True
                assert shown.pop("threshold") == thresholds[row["asset"]]
            if event in ("token_transfer", "large_payment"):
                assert shown == rest[row_id]
            assert shown == _rendered(CATALOGUE[event].listing.table, row), (event, row_id)
