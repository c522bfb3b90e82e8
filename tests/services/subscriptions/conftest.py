"""The 20 mainnet ledgers with the last ones taken back out of the store, to be ingested again during a test
(through a real `IngestEngine` with the real publisher hook), and helpers to read subscription streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Network, Settings
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, LedgerResult, plan_tenants
from ingest.publish import publisher
from processors.registry import default_registry
from processors.token_transfers.query import TRANSFERS
from processors.token_transfers.table import token_transfers
from storage.db import create_engine
from storage.pubsub import PubSub
from storage.query import Filter
from storage.router import QueryRouter
from storage.tables import checkpoints
from tests import corpus
from tests.api.helpers import settings_for
from tests.mainnet_data import FIRST, FULL, PARTIAL, MainnetData, require_corpus, tenant_document

KEPT = FIRST + 1
"""The last ledger left in the store: 1,115 transfers of the full tenant, so its 1,000th is stored."""


@dataclass
class Ledgers:
    """A mainnet copy holding the ledgers up to `KEPT`; the later ones ready to ingest again."""

    url: str
    engine: AsyncEngine
    router: QueryRouter
    all_ids: dict[str, list[str]]
    """Every token transfer id of each tenant over the 20 ledgers, in order (what the store held)."""

    def settings(self, **overrides: Any) -> Settings:
        return settings_for(self.url, **overrides)

    def results(self, tenant_id: str, first: int, last: int) -> list[LedgerResult]:
        catalogue = default_registry().catalogue()
        config = parse_tenant_config(tenant_document(tenant_id, ["TokenTransferProcessor"]), catalogue)
        plans = plan_tenants([config], catalogue, Network.pubnet)
        return corpus.tenant_results(
            require_corpus(), corpus.MAINNET_20[first - FIRST : last - FIRST + 1], plans
        )

    async def ingest(self, tenant_id: str, first: int, last: int, pubsub: PubSub | None) -> None:
        """Write the tenant's transfers of ledgers `first`..`last` in one batch, publishing after commit."""
        catalogue = default_registry().catalogue()
        config = parse_tenant_config(tenant_document(tenant_id, ["TokenTransferProcessor"]), catalogue)
        hooks = [publisher(pubsub)] if pubsub is not None else []
        engine = IngestEngine(
            self.engine, Network.pubnet, hooks=hooks, plans=plan_tenants([config], catalogue, Network.pubnet)
        )
        await engine.write_batch(self.results(tenant_id, first, last))

    def ids(self, tenant_id: str, first: int, last: int) -> list[str]:
        """The tenant's transfer ids of ledgers `first`..`last`."""
        return [i for i in self.all_ids[tenant_id] if first <= ledger_of(i) <= last]


async def _trim(url: str) -> Ledgers:
    engine = create_engine(url)
    all_ids = {}
    async with engine.begin() as conn:
        for tenant_id in (FULL, PARTIAL):
            found = await conn.scalars(
                select(token_transfers.c.id).where(token_transfers.c.tenant_id == tenant_id).order_by("id")
            )
            all_ids[tenant_id] = list(found)
        await conn.execute(delete(token_transfers).where(token_transfers.c.ledger_sequence > KEPT))
        await conn.execute(
            update(checkpoints).where(checkpoints.c.name == "latest:pubnet").values(ledger=KEPT)
        )
    return Ledgers(url, engine, QueryRouter(engine, latest_ledger_ttl=0), all_ids)


@pytest.fixture
async def ledgers(mainnet_db: MainnetData) -> AsyncIterator[Ledgers]:
    """Both backends (a copy of the session's mainnet template), trimmed to `KEPT`."""
    made = await _trim(mainnet_db.url)
    try:
        yield made
    finally:
        await made.engine.dispose()


@pytest.fixture
async def pg_ledgers(mainnet_pg: MainnetData) -> AsyncIterator[Ledgers]:
    """PostgreSQL only, trimmed to `KEPT`."""
    made = await _trim(mainnet_pg.url)
    try:
        yield made
    finally:
        await made.engine.dispose()


def transfer_filters(**values: Any) -> tuple[Filter, ...]:
    return TRANSFERS.to_filters(TRANSFERS.filters.model_validate(values))


async def take(rows: AsyncIterator[dict[str, Any]], count: int) -> list[str]:
    """The ids of the next `count` rows (a generous guard, not a timing assertion: a stream that stalls
    fails instead of hanging the suite)."""
    async with asyncio.timeout(120):
        return [(await anext(rows))["id"] for _ in range(count)]


async def until(condition: Any) -> None:
    """Let the event loop run until `condition()` holds (guarded like `take`)."""
    async with asyncio.timeout(120):
        while not condition():  # noqa: ASYNC110 (the hub's state, which no event signals)
            await asyncio.sleep(0.01)


def ledger_of(row_id: str) -> int:
    return int(row_id.split("-")[0]) >> 32


def matching(rows: Sequence[dict[str, Any]], filters: tuple[Filter, ...]) -> list[str]:
    from storage.row_match import row_matches

    return [row["id"] for row in rows if row_matches(filters, row)]
