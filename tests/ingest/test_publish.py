"""The after-commit publisher: one v2 message per tenant and processor with history rows, whose wire rows decode
to exactly what the query router then returns (real mainnet ledgers, a real `IngestEngine` commit)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from ingest.publish import publisher
from processors.registry import default_registry
from storage.db import create_engine
from storage.pubsub import MemoryPubSub
from storage.router import QueryRouter
from storage.row_wire import MESSAGE_VERSION, decode_rows, rows_channel
from tests import corpus
from tests.mainnet_data import FIRST, require_corpus, tenant_document

TENANT = "publish-tenant"


async def test_one_message_per_processor_decoding_to_the_stored_rows(migrated_db_url: str) -> None:
    catalogue = default_registry().catalogue()
    types = [p.type_name for p in catalogue.values()]
    config = parse_tenant_config(tenant_document(TENANT, types), catalogue)
    plans = plan_tenants([config], catalogue, Network.pubnet)
    # Three ledgers: the third closes candles (dex_volume's history), the first two do not.
    results = corpus.tenant_results(require_corpus(), corpus.MAINNET_20[:3], plans)
    pubsub = MemoryPubSub()
    engine = create_engine(migrated_db_url)
    try:
        with_history = [
            p for p in catalogue.values() if any(t.info.get("kind") == "history" for t in p.tables)
        ]
        async with channels(pubsub, [p.name for p in with_history]) as subscriptions:
            await IngestEngine(engine, Network.pubnet, hooks=[publisher(pubsub)], plans=plans).write_batch(
                results
            )
            router = QueryRouter(engine)
            for processor in with_history:
                async with asyncio.timeout(30):
                    message = orjson.loads(await anext(subscriptions[processor.name]))
                assert {k: message[k] for k in ("v", "network", "tenant_id", "processor")} == {
                    "v": MESSAGE_VERSION,
                    "network": "pubnet",
                    "tenant_id": TENANT,
                    "processor": processor.name,
                }
                assert (message["first_ledger"], message["last_ledger"]) == (FIRST, FIRST + 2)
                history = [t for t in processor.tables if t.info.get("kind") == "history"]
                assert set(message["tables"]) == {t.name for t in history}
                for table in history:
                    stored = [row for page in [p async for p in router.scan(table, TENANT)] for row in page]
                    published = decode_rows(table, message["tables"][table.name])
                    assert sorted(published, key=lambda r: r["id"]) == stored
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def channels(
    pubsub: MemoryPubSub, processors: list[str]
) -> AsyncIterator[dict[str, AsyncIterator[bytes]]]:
    """Subscriptions to the tenant's channel of each processor, open together."""
    async with contextlib.AsyncExitStack() as stack:
        yield {
            name: await stack.enter_async_context(pubsub.subscribe(rows_channel(TENANT, name)))
            for name in processors
        }
