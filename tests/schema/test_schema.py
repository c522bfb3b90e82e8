"""Composition and the endpoint: each tenant's schema holds exactly its processors, tenants never see each
other's rows, `_meta` and `Latest-Ledger`, GraphiQL, GET queries, and the point lookups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from processors.dex_volume.config import ALL_INTERVALS
from processors.dex_volume.pair_stats import Candles, pair_stats
from processors.registry import default_registry
from schema.build import build_schema, schema_for
from storage.db import create_engine
from storage.router import QueryRouter
from tests.api.helpers import bearer
from tests.mainnet_data import FULL, LAST, PARTIAL, MainnetData
from tests.schema.conftest import GraphQLClient

FIELDS = "{ __schema { queryType { fields { name } } } }"


def query_fields(client: GraphQLClient) -> set[str]:
    return {f["name"] for f in client.data(FIELDS)["__schema"]["queryType"]["fields"]}


def type_fields(client: GraphQLClient, name: str) -> set[str]:
    found = client.data("query($n: String!) { __type(name: $n) { fields { name } } }", n=name)["__type"]
    return {f["name"] for f in found["fields"]} if found else set()


def test_introspection_shows_only_the_tenants_processors(full: GraphQLClient, partial: GraphQLClient) -> None:
    assert query_fields(full) == {
        "tokenTransfers",
        "contractEvents",
        "accountBalances",
        "accountBalancesCurrent",
        "dexTrades",
        "pairStats",
        "contractData",
        "contractDataCurrent",
        "dexVolume",
        "dexClosedCandles",
        "tokenBalances",
        "account",
        "contract",
        "_meta",
    }
    assert query_fields(partial) == {"tokenTransfers", "contractEvents", "account", "_meta"}
    # Links to processors the tenant does not run do not exist either.
    assert "contract" in type_fields(full, "ContractEvent")
    assert "contract" not in type_fields(partial, "ContractEvent")
    assert type_fields(full, "Account") == {"address", "balances", "accountBalances"}
    assert type_fields(partial, "Account") == {"address", "balances"}
    assert type_fields(partial, "DexTrade") == set()


def test_schemas_are_cached_per_processor_set() -> None:
    registry = default_registry()
    names = frozenset(p.name for p in registry)
    assert schema_for(registry, names) is schema_for(registry, frozenset(sorted(names)))
    assert schema_for(registry, frozenset({"token_transfers"})) is not schema_for(registry, names)
    # Every processor with what it requires builds (a processor adds fields without schema/ knowing it).
    names_of = {p.type_name: p.name for p in registry}
    for proc in registry:
        built = build_schema(registry, frozenset({proc.name, *(names_of[t] for t in proc.requires)}))
        assert built.graphql_schema.query_type is not None


def test_a_tenant_never_sees_another_tenants_rows(
    full: GraphQLClient, partial: GraphQLClient, mainnet_data: MainnetData
) -> None:
    # A key of one tenant on another tenant's path: 404, as for a tenant that does not exist.
    response = partial.client.post(
        f"/api/v1/{FULL}/graphql", json={"query": FIELDS}, headers=bearer(partial.key)
    )
    assert response.status_code == 404
    ids = (
        "query($a: String) { tokenTransfers(first: 100, after: $a) { edges { node { id } } "
        "pageInfo { endCursor hasNextPage } } }"
    )

    def all_ids(client: GraphQLClient) -> list[str]:
        out, cursor = [], None
        while True:
            page = client.data(ids, a=cursor)["tokenTransfers"]
            out += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return out
            cursor = page["pageInfo"]["endCursor"]

    async def stored(tenant: str) -> list[str]:
        engine = create_engine(mainnet_data.url)
        try:
            async with engine.connect() as conn:
                from sqlalchemy import text

                rows = await conn.execute(
                    text("SELECT id FROM token_transfers WHERE tenant_id = :t ORDER BY id"), {"t": tenant}
                )
                return [r[0] for r in rows]
        finally:
            await engine.dispose()

    assert all_ids(partial) == asyncio.run(stored(PARTIAL))
    assert all_ids(full) == asyncio.run(stored(FULL))


def test_meta_and_latest_ledger_header(full: GraphQLClient) -> None:
    data = full.data(
        "{ tokenTransfers(first: 5) { edges { cursor } } "
        "_meta { latestLedger queryTimeMs dataSources } m: _meta { t: queryTimeMs } }"
    )
    assert data["_meta"]["latestLedger"] == LAST
    assert data["_meta"]["dataSources"] == ["hot"]
    assert data["_meta"]["queryTimeMs"] > 0 and data["m"]["t"] > 0
    assert full.response.headers["Latest-Ledger"] == str(LAST)
    # Errors carry the header too.
    full("{ nope }")
    assert full.response.headers["Latest-Ledger"] == str(LAST)


def test_graphiql_and_get_queries(full: GraphQLClient) -> None:
    page = full.client.get(full.path, headers={**bearer(full.key), "Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    # Public like the docs page (a browser sends no key), the same for any tenant id; queries still need the key.
    assert full.client.get(full.path, headers={"Accept": "text/html"}).text == page.text
    assert (
        full.client.get("/api/v1/no-such-tenant/graphql", headers={"Accept": "text/html"}).text == page.text
    )
    assert full.client.get(full.path, params={"query": "{ _meta { latestLedger } }"}).status_code == 401
    assert full.client.post(full.path, json={"query": "{ __typename }"}).status_code == 401
    response = full.client.get(
        full.path, params={"query": "{ _meta { latestLedger } }"}, headers=bearer(full.key)
    )
    assert response.json() == {"data": {"_meta": {"latestLedger": LAST}}}
    assert response.headers["Latest-Ledger"] == str(LAST)


def test_point_lookups(full: GraphQLClient, partial: GraphQLClient, mainnet_data: MainnetData) -> None:
    holder = full.data("{ tokenBalances(first: 1) { nodes { accountId } } }")["tokenBalances"]["nodes"][0][
        "accountId"
    ]
    account = full.data(
        f'{{ account(address: "{holder}") {{ address balances {{ asset balanceRaw exact }} '
        "accountBalances { asset } } }"
    )["account"]
    assert account["address"] == holder and account["balances"]
    # Without the token balance processor, balances are summed from transfers (exact: false).
    sender = partial.data(
        '{ tokenTransfers(first: 1, filter: {eventTypes: ["transfer"]}) { nodes { from } } }'
    )
    address = sender["tokenTransfers"]["nodes"][0]["from"]
    summed = partial.data(f'{{ account(address: "{address}") {{ balances {{ asset exact source }} }} }}')
    assert summed["account"]["balances"] and all(
        b["exact"] is False and b["source"] == "transfers" for b in summed["account"]["balances"]
    )
    entry = full.data("{ contractDataCurrent(first: 1) { nodes { contractId } } }")["contractDataCurrent"][
        "nodes"
    ][0]
    storage = full.data(
        f'{{ contract(contractId: "{entry["contractId"]}") '
        "{ storage(includeDeleted: true) { contractId keyHash } } }"
    )["contract"]["storage"]
    assert storage and {s["contractId"] for s in storage} == {entry["contractId"]}


def test_pair_stats_equal_the_shared_answer(full: GraphQLClient, mainnet_data: MainnetData) -> None:
    trades = full.data("{ dexTrades(first: 100) { nodes { pair closedAt } } }")["dexTrades"]["nodes"]
    pair = trades[0]["pair"]
    since, until = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    data = full.data(
        "query($p: [String!]!, $s: DateTime, $u: DateTime) { pairStats(pairs: $p, since: $s, until: $u) "
        "{ pair tradeCount baseVolume counterVolume open close vwap source } }",
        p=[pair],
        s=since,
        u=until,
    )

    async def expected() -> dict[str, Any] | None:
        engine = create_engine(mainnet_data.url)
        try:
            stats = await pair_stats(
                QueryRouter(engine),
                FULL,
                [pair],
                since=datetime(2000, 1, 1, tzinfo=UTC),
                until=datetime(2100, 1, 1, tzinfo=UTC),
                candles=Candles(ALL_INTERVALS),
            )
            return stats[pair]
        finally:
            await engine.dispose()

    want = asyncio.run(expected())
    assert want is not None
    (got,) = data["pairStats"]
    assert got["tradeCount"] == want["trade_count"] > 0
    assert got["baseVolume"] == str(want["base_volume"]) and got["vwap"] == want["vwap"]
    assert got["source"].startswith("dex_volume")
    error = full.error('{ pairStats(pairs: ["native"]) { pair } }')
    assert error["message"] == "pairs[0]: not a pair (BASE/COUNTER, e.g. native/USDC:G...)"
