"""``onDexVolume`` end to end on both backends: an API server (uvicorn, in a thread, over a migrated SQLite or
PostgreSQL database, pub/sub through the shared Redis under a prefix of its own), independent `gql` WebSocket
clients, and the 20 real mainnet ledgers committed one per batch by this process's `IngestEngine` with the
publisher hook, as an ingest process does.

- every closed candle reaches a subscriber once and in id order (the stored ``dex_closed_candles``, an outside
  observer's read); a subscriber of another tenant gets nothing;
- ``after:`` the k-th closed candle's id, subscribed halfway through, gives the (k+1)-th on: catch-up, then live;
- re-ingesting the same ledgers publishes nothing new;
- introspection shows ``onDexVolume`` only with the DEXVolumeProcessor; a key without ``read:dex_volume`` is
  refused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import text

from core.ids import OrderKey
from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import CommittedBatch, IngestEngine, plan_tenants
from ingest.publish import publisher
from obsrvr_flow.wiring import build_app
from processors.registry import default_registry
from storage.api_keys import ApiKeyStore
from storage.db import create_engine
from storage.pubsub import RedisPubSub
from storage.tenants import TenantStore
from tests import corpus
from tests.api.helpers import settings_for
from tests.conftest import REDIS_URL
from tests.corpus import MAINNET_20
from tests.mainnet_data import FIRST as MAINNET_FIRST
from tests.mainnet_data import require_corpus, tenant_document
from tests.servers import drop_redis_keys, pubsub_listeners, uvicorn_thread

VOLUME = ["DEXTradeProcessor", "DEXVolumeProcessor"]
TENANTS = {"dv-main": VOLUME, "dv-other": VOLUME, "dv-trades": ["DEXTradeProcessor"]}
PEPPER = "pepper-for-tests"  # settings_for's
START = OrderKey(0).id  # before every row: the whole history, then live
SUBSCRIPTION = """subscription ($after: String, $filter: DexClosedCandleFilter) {
  onDexVolume(after: $after, filter: $filter) { id pair interval bucketStart tradeCount open close lastTradeId }
}"""


@dataclass
class Server:
    url: str
    port: int
    prefix: str
    keys: dict[str, str]

    def ws(self, tenant: str) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/{tenant}/graphql"


async def _tenants(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        keys = {}
        for tenant_id, types in TENANTS.items():
            config = parse_tenant_config(tenant_document(tenant_id, types), default_registry().catalogue())
            await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", config.to_document())
            keys[tenant_id] = (await ApiKeyStore(engine, PEPPER).create(tenant_id)).secret
        keys["trades-only"] = (
            await ApiKeyStore(engine, PEPPER).create("dv-main", ("read:dex_trades",))
        ).secret
        return keys
    finally:
        await engine.dispose()


@pytest.fixture
def server(migrated_db_url: str) -> Iterator[Server]:
    require_corpus()
    prefix = f"obsrvr-test:{uuid.uuid4().hex[:10]}:"
    keys = asyncio.run(_tenants(migrated_db_url))
    # No periodic resync within the test (300 s, the most): live rows must come from the publisher.
    settings = settings_for(
        migrated_db_url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        queue_name=f"{prefix}queue",
        subscription_resync_seconds=300,
    )
    try:
        with uvicorn_thread(build_app(settings)) as port:
            yield Server(migrated_db_url, port, prefix, keys)
    finally:
        asyncio.run(drop_redis_keys(REDIS_URL, prefix))


class Subscriber:
    """A gql client on one tenant's ``onDexVolume``, collecting the pushed ids (checked against the payload's)."""

    def __init__(
        self,
        server: Server,
        tenant: str,
        after: str | None,
        key: str | None = None,
        document: str = SUBSCRIPTION,
    ) -> None:
        self.transport = WebsocketsTransport(
            url=server.ws(tenant),
            init_payload={"Authorization": f"Bearer {key or server.keys[tenant]}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        self.after = after
        self.document = document
        self.ids: list[str] = []
        self.rows: list[dict[str, Any]] = []

    async def run(self) -> None:
        async with Client(transport=self.transport) as session:
            request = gql(self.document)
            request.variable_values = {"after": self.after} if self.after is not None else {}
            async for result in session.subscribe(request, get_execution_result=True):
                assert result.errors is None, result.errors
                row = result.data["onDexVolume"]  # type: ignore[index]
                assert row["id"] == result.extensions["id"]  # type: ignore[index]
                self.ids.append(row["id"])
                self.rows.append(row)

    def start(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.run())


async def listening(server: Server, tenant: str, count: int) -> None:
    """Wait until `count` subscriptions' hub listens on the tenant's dex_volume channel (joined before reading)."""
    await pubsub_listeners(REDIS_URL, f"{server.prefix}pubsub:rows:{tenant}:dex_volume", count)


class Ingest:
    """Commits ledgers for one tenant, one batch each, publishing after commit on the server's Redis."""

    def __init__(self, server: Server, tenant: str) -> None:
        from redis.asyncio import Redis

        catalogue = default_registry().catalogue()
        config = parse_tenant_config(tenant_document(tenant, TENANTS[tenant]), catalogue)
        self.plans = plan_tenants([config], catalogue, Network.pubnet)
        self.redis = Redis.from_url(REDIS_URL)
        self.engine = create_engine(server.url)
        self.writer = IngestEngine(
            self.engine,
            Network.pubnet,
            hooks=[publisher(RedisPubSub(self.redis, server.prefix + "pubsub:"))],
            plans=self.plans,
        )

    async def ledgers(self, files: tuple[str, ...], *, one_batch: bool = False) -> list[CommittedBatch]:
        results = await asyncio.to_thread(corpus.tenant_results, require_corpus(), files, self.plans)
        if one_batch:
            return [await self.writer.write_batch(results)]
        return [await self.writer.write_batch([result]) for result in results]

    async def close(self) -> None:
        await self.engine.dispose()
        await self.redis.aclose()


async def closed_ids(server: Server, tenant: str) -> list[str]:
    engine = create_engine(server.url)
    try:
        async with engine.connect() as conn:
            statement = text("SELECT id FROM dex_closed_candles WHERE tenant_id = :t ORDER BY id")
            return [row[0] for row in await conn.execute(statement, {"t": tenant})]
    finally:
        await engine.dispose()


async def rest_ids(server: Server, tenant: str) -> list[str]:
    """Every closed candle through ``GET /dex/volume/closed`` (ledger range: the corpus is older than a day)."""
    ids: list[str] = []
    params: dict[str, Any] = {"from": MAINNET_FIRST, "to": MAINNET_FIRST + 100, "limit": 200}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
        while True:
            answer = await client.get(
                f"/api/v1/{tenant}/dex/volume/closed",
                params=params,
                headers={"Authorization": f"Bearer {server.keys[tenant]}"},
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            ids += [row["id"] for row in body["data"]]
            cursor = body["metadata"]["next_cursor"]
            if not cursor or not body["data"]:
                return ids
            params["cursor"] = cursor


async def until(subscriber: Subscriber, count: int, task: asyncio.Task[None]) -> None:
    """Wait for `count` rows (the deadline guards against hanging; it is not a timing assertion)."""
    deadline = time.monotonic() + 120
    while len(subscriber.ids) < count:
        if task.done():
            task.result()  # raises what ended it
            pytest.fail(f"the subscription ended after {len(subscriber.ids)} of {count} rows")
        assert time.monotonic() < deadline, f"{len(subscriber.ids)} of {count} rows"
        await asyncio.sleep(0.05)


def test_closed_candles_once_in_order_catch_up_then_live_and_nothing_on_reingest(server: Server) -> None:
    async def run() -> None:
        first, second = MAINNET_20[:10], MAINNET_20[10:]
        everything = Subscriber(server, "dv-main", START)
        other = Subscriber(server, "dv-other", START)
        tasks = [everything.start(), other.start()]
        ingest = Ingest(server, "dv-main")
        try:
            await listening(server, "dv-main", 1)
            await listening(server, "dv-other", 1)
            await ingest.ledgers(first)
            halfway = await closed_ids(server, "dv-main")
            assert len(halfway) >= 2, "the first ten ledgers close candles"
            k = len(halfway) // 2
            resumed = Subscriber(server, "dv-main", halfway[k - 1])
            tasks.append(resumed.start())
            await until(resumed, len(halfway) - k, tasks[-1])  # its catch-up
            await ingest.ledgers(second)
            stored = await closed_ids(server, "dv-main")
            assert len(stored) > len(halfway)
            await until(everything, len(stored), tasks[0])
            await until(resumed, len(stored) - k, tasks[-1])
            assert everything.ids == stored  # every closed candle once, in id order
            assert resumed.ids == stored[k:]  # the (k+1)-th on: catch-up, then live
            assert {row["interval"] for row in everything.rows} >= {"1m"}
            assert await rest_ids(server, "dv-main") == stored  # the same listing over REST

            # The same ledgers again, in one batch and one by one: nothing closes again, nothing is published.
            again = await ingest.ledgers(MAINNET_20, one_batch=True)
            again += await ingest.ledgers(MAINNET_20[5:8])
            assert all("dex_volume" not in batch.rows.get("dv-main", {}) for batch in again)
            await asyncio.sleep(1)  # what a publish would take to arrive; nothing must
            assert await closed_ids(server, "dv-main") == stored
            assert everything.ids == stored and resumed.ids == stored[k:]
            assert other.ids == []  # another tenant's subscriber saw none of it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ingest.close()

    asyncio.run(run())


def test_on_dex_volume_only_with_the_processor_and_the_scope(server: Server) -> None:
    query = "{ __schema { subscriptionType { fields { name } } } }"

    def fields(tenant: str) -> set[str]:
        answer = httpx.post(
            f"http://127.0.0.1:{server.port}/api/v1/{tenant}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {server.keys[tenant]}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return {f["name"] for f in answer.json()["data"]["__schema"]["subscriptionType"]["fields"]}

    assert fields("dv-main") == {"onDexTrade", "onDexVolume"}
    assert fields("dv-trades") == {"onDexTrade"}

    async def refused(tenant: str, key: str, document: str = SUBSCRIPTION) -> dict[str, Any]:
        subscriber = Subscriber(server, tenant, START, key, document)
        with pytest.raises(TransportQueryError) as caught:
            await asyncio.wait_for(subscriber.run(), 60)
        error: dict[str, Any] = caught.value.errors[0]  # type: ignore[index]
        return error

    scope = asyncio.run(refused("dv-main", server.keys["trades-only"]))
    assert scope["extensions"]["code"] == "insufficient_scope", scope
    bare = "subscription ($after: String) { onDexVolume(after: $after) { id } }"
    unknown = asyncio.run(refused("dv-trades", server.keys["dv-trades"], bare))
    assert unknown["extensions"]["code"] == "graphql_validation_failed", unknown
    assert "onDexVolume" in unknown["message"], unknown
