"""Derived answers name the tiers they were computed from: balances summed from transfers (REST and GraphQL) and
pair statistics, on the 20 mainnet ledgers with the first half of the history archived to real Parquet files
(`tests.services.purge_data`), through the app as it is wired."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import LOOPBACK, bearer, settings_for
from tests.mainnet_data import MainnetData
from tests.services.purge_data import FULL, MIDDLE, PARTIAL, load_tenants

PEPPER = "pepper-for-tests"


async def _history(url: str, cold: Path, tenant: str, processor: str) -> list[dict[str, Any]]:
    """Every row of the processor's history table of the tenant, from both tiers."""
    from processors.registry import default_registry
    from storage.cold.reader import ColdReader
    from storage.cold.store import ColdStore
    from storage.db import create_engine
    from storage.router import QueryRouter

    engine = create_engine(url)
    store = ColdStore.open(str(cold))
    reader = ColdReader(store, engine)
    try:
        table = default_registry().by_name(processor).archive[0]
        return [row async for page in QueryRouter(engine, cold=reader).scan(table, tenant) for row in page]
    finally:
        await reader.close()
        await store.close()
        await engine.dispose()


def _graphql_sources(client: TestClient, tenant: str, key: str, query: str, variables: dict[str, Any]) -> Any:
    """The `_meta.dataSources` of a GraphQL query (which must answer without errors)."""
    body = client.post(
        f"/api/v1/{tenant}/graphql", json={"query": query, "variables": variables}, headers=bearer(key)
    ).json()
    assert "errors" not in body, body
    return body["data"]["_meta"]["dataSources"]


def _tiers(ledgers: set[int]) -> list[str]:
    return sorted({"cold" if ledger < MIDDLE else "hot" for ledger in ledgers})


def test_derived_answers_name_the_tiers_they_read(mainnet_pg: MainnetData, tmp_path: Path) -> None:
    cold = tmp_path / "cold"
    migrated_pg = mainnet_pg.url
    keys = load_tenants(mainnet_pg, cold)
    transfers = asyncio.run(_history(migrated_pg, cold, PARTIAL, "token_transfers"))
    # The ledgers of each holder's counted movements (successful transactions, and fees): the tiers its balance
    # is summed from.
    ledgers_of: dict[str, set[int]] = defaultdict(set)
    for t in transfers:
        if t["in_successful_tx"] or t["event_type"] == "fee":
            for holder in (t["from"], t["to"]):
                if holder:
                    ledgers_of[holder].add(t["ledger_sequence"])
    both = next(h for h, seen in ledgers_of.items() if _tiers(seen) == ["cold", "hot"])
    only_cold = next(h for h, seen in ledgers_of.items() if _tiers(seen) == ["cold"])
    settings = settings_for(migrated_pg, cold_url=str(cold))
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        # PARTIAL runs no processor keeping balances: both APIs sum them from its transfers.
        for holder, expected in ((both, ["cold", "hot"]), (only_cold, ["cold"])):
            rest = client.get(
                f"/api/v1/{PARTIAL}/accounts/{holder}/token-balances", headers=bearer(keys["partial"])
            )
            assert rest.status_code == 200, rest.text
            assert rest.json()["data"] and rest.json()["data"][0]["source"] == "transfers"
            assert rest.json()["metadata"]["data_sources"] == expected, holder
            query = (
                "query($a: Address!) { account(address: $a) { balances { asset } } _meta { dataSources } }"
            )
            sources = _graphql_sources(client, PARTIAL, keys["partial"], query, {"a": holder})
            assert sources == expected, holder

        # Pair statistics from a window starting inside the archived half: its edge is folded from archived
        # trades (FULL keeps candles, which stay hot, for the whole buckets).
        trades = asyncio.run(_history(migrated_pg, cold, FULL, "dex_trades"))
        first = min((t for t in trades if t["ledger_sequence"] < MIDDLE), key=lambda t: t["closed_at"])
        since = first["closed_at"].isoformat()
        until = max(t["closed_at"] for t in trades).isoformat()
        pair = first["pair"]
        stats = client.get(
            f"/api/v1/{FULL}/dex/pairs/{pair.replace('/', '%2F')}/stats",
            params={"from": since, "to": until},
            headers=bearer(keys["full"]),
        )
        assert stats.status_code == 200, stats.text
        assert stats.json()["data"][0]["trade_count"] > 0
        assert "cold" in stats.json()["metadata"]["data_sources"]
        query = (
            "query($p: [String!]!, $s: DateTime, $u: DateTime) { pairStats(pairs: $p, since: $s, until: $u) "
            "{ tradeCount } _meta { dataSources } }"
        )
        variables = {"p": [pair], "s": since, "u": until}
        assert "cold" in _graphql_sources(client, FULL, keys["full"], query, variables)
