"""The two APIs give the same data for the same filters (issue 7, "same data as GraphQL"): for every REST list
route and its GraphQL connection, over HTTP on the 20 mainnet ledgers, every page read to the end; plus an
account's token balances and a pair's stats. Both build their queries from the same listing filter models, and
this test checks the result rather than the construction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from processors.registry import default_registry
from resolvers.row_types import camel
from storage.tables import metadata
from tests.api.helpers import bearer, settings_for
from tests.api.rest.helpers import read_all, stored
from tests.mainnet_data import FULL, PARTIAL, MainnetData


@pytest.fixture(scope="module")
def client(mainnet_data: MainnetData) -> Iterator[TestClient]:
    with TestClient(build_app(settings_for(mainnet_data.url))) as test_client:
        yield test_client


def _norm(value: Any) -> Any:
    """One form for both encodings: timestamps as aware datetimes (REST and GraphQL may spell UTC differently)."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def graphql_rows(
    client: TestClient, tenant: str, key: str, field: str, table: str, filter_: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every node of a connection, page after page, with every column, keyed by column name."""
    columns = [c.name for c in metadata.tables[table].columns if c.name != "tenant_id"]
    selection = " ".join(camel(c) for c in columns)
    query = (
        f"query($after: String, $filter: {_input_name(client, tenant, key, field)}) {{ {field}(first: 100, "
        f"after: $after, filter: $filter) {{ edges {{ node {{ {selection} }} }} "
        "pageInfo { hasNextPage endCursor } } }"
    )
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        response = client.post(
            f"/api/v1/{tenant}/graphql",
            json={"query": query, "variables": {"after": after, "filter": filter_}},
            headers=bearer(key),
        )
        body = response.json()
        assert "errors" not in body, body
        page = body["data"][field]
        rows.extend({c: node[camel(c)] for c in columns} for node in (e["node"] for e in page["edges"]))
        if not page["pageInfo"]["hasNextPage"]:
            return rows
        after = page["pageInfo"]["endCursor"]


def _input_name(client: TestClient, tenant: str, key: str, field: str) -> str:
    query = '{ __type(name: "Query") { fields { name args { name type { name } } } } }'
    body = client.post(f"/api/v1/{tenant}/graphql", json={"query": query}, headers=bearer(key)).json()
    fields = {f["name"]: f for f in body["data"]["__type"]["fields"]}
    return next(a["type"]["name"] for a in fields[field]["args"] if a["name"] == "filter")


def _same(rest: list[dict[str, Any]], graphql: list[dict[str, Any]]) -> None:
    assert rest, "the comparison needs rows"
    assert len(rest) == len(graphql)
    for a, b in zip(rest, graphql, strict=True):
        assert {k: _norm(a[k]) for k in b} == {k: _norm(v) for k, v in b.items()}


def _top(rows: list[dict[str, Any]], *columns: str) -> str:
    return Counter(r[c] for r in rows for c in columns if r[c]).most_common(1)[0][0]


def test_every_list_route_equals_its_graphql_connection(
    client: TestClient, mainnet_data: MainnetData
) -> None:
    key, url = mainnet_data.keys["full"], mainnet_data.url
    transfers = stored(url, "token_transfers", FULL)
    events = stored(url, "contract_events", FULL)
    balances = stored(url, "account_balances", FULL)
    trades = stored(url, "dex_trades", FULL)
    data = stored(url, "contract_data", FULL)
    account = _top(transfers, "from", "to")
    contract = _top(events, "contract_id")
    holder = _top(balances, "account_id")
    base, counter = _top(trades, "pair").split("/")
    data_contract = _top(data, "contract_id")
    cases = [
        (
            "/token-transfers",
            {"account": account},
            "tokenTransfers",
            "token_transfers",
            {"accounts": [account]},
        ),
        (
            "/token-transfers",
            {"event_type": "transfer,mint", "min_amount": "10000000"},
            "tokenTransfers",
            "token_transfers",
            {"eventTypes": ["transfer", "mint"], "minAmount": "10000000"},
        ),
        (
            "/contract-events",
            {"contract_id": contract},
            "contractEvents",
            "contract_events",
            {"contracts": [contract]},
        ),
        (f"/contracts/{contract}/events", {}, "contractEvents", "contract_events", {"contracts": [contract]}),
        (
            f"/accounts/{holder}/balance-history",
            {},
            "accountBalances",
            "account_balances",
            {"accounts": [holder]},
        ),
        (
            f"/accounts/{holder}/current-balance",
            {},
            "accountBalancesCurrent",
            "account_balances_current",
            {"accounts": [holder]},
        ),
        (
            "/dex/trades",
            {"base": base, "counter": counter},
            "dexTrades",
            "dex_trades",
            {"pairs": [f"{base}/{counter}"]},
        ),
        (
            "/dex/volume",
            {"base": base, "counter": counter, "interval": "1m"},
            "dexVolume",
            "dex_volume",
            {"pairs": [f"{base}/{counter}"], "intervals": ["1m"]},
        ),
        (
            "/dex/volume/closed",
            {"base": base, "counter": counter},
            "dexClosedCandles",
            "dex_closed_candles",
            {"pairs": [f"{base}/{counter}"]},
        ),
        (
            f"/contracts/{data_contract}/data",
            {},
            "contractData",
            "contract_data",
            {"contracts": [data_contract]},
        ),
        (
            f"/contracts/{data_contract}/storage",
            {},
            "contractDataCurrent",
            "contract_data_current",
            {"contracts": [data_contract]},
        ),
    ]
    covered = set()
    for path, params, field, table, filter_ in cases:
        rest = read_all(client, FULL, path, key, limit=200, **params)
        _same(rest, graphql_rows(client, FULL, key, field, table, filter_))
        covered.add(table)
    # Every listing of every processor is compared (token balances below).
    listings = {listing.table.name for p in default_registry().catalogue().values() for listing in p.listings}
    assert listings - covered == {"token_balances"}


BALANCE_FIELDS = "asset balanceRaw balance exact source"


def test_token_balances_and_pair_stats_agree(client: TestClient, mainnet_data: MainnetData) -> None:
    for tenant, key in ((FULL, mainnet_data.keys["full"]), (PARTIAL, mainnet_data.keys["partial"])):
        transfers = stored(mainnet_data.url, "token_transfers", tenant)
        holder = _top(transfers, "to")
        rest = read_all(client, tenant, f"/accounts/{holder}/token-balances", key, limit=200)
        body = client.post(
            f"/api/v1/{tenant}/graphql",
            json={"query": f'{{ account(address: "{holder}") {{ balances {{ {BALANCE_FIELDS} }} }} }}'},
            headers=bearer(key),
        ).json()
        assert "errors" not in body, body
        graphql = body["data"]["account"]["balances"]
        assert [(r["asset"], r["balance_raw"], r["balance"], r["exact"], r["source"]) for r in rest] == [
            (g["asset"], g["balanceRaw"], g["balance"], g["exact"], g["source"]) for g in graphql
        ]
        assert rest and (tenant == FULL or all(r["exact"] is False for r in rest))

    key = mainnet_data.keys["full"]
    trades = stored(mainnet_data.url, "dex_trades", FULL)
    pair = _top(trades, "pair")
    since = min(t["closed_at"] for t in trades).replace(second=0, microsecond=0).isoformat()
    until = max(t["closed_at"] for t in trades).isoformat()
    encoded = pair.replace("/", "%2F")
    rest_stats = client.get(
        f"/api/v1/{FULL}/dex/pairs/{encoded}/stats", params={"from": since, "to": until}, headers=bearer(key)
    ).json()["data"][0]
    body = client.post(
        f"/api/v1/{FULL}/graphql",
        json={
            "query": "query($p: [String!]!, $s: DateTime, $u: DateTime) { pairStats(pairs: $p, since: $s, until: $u) "
            "{ pair tradeCount baseVolume counterVolume open high low close vwap } }",
            "variables": {"p": [pair], "s": since, "u": until},
        },
        headers=bearer(key),
    ).json()
    assert "errors" not in body, body
    (graphql_stats,) = body["data"]["pairStats"]
    assert (
        graphql_stats["tradeCount"]
        == rest_stats["trade_count"]
        == len([t for t in trades if t["pair"] == pair])
    )
    for name in ("pair", "base_volume", "counter_volume", "open", "high", "low", "close", "vwap"):
        assert graphql_stats[camel(name)] == rest_stats[name], name


@pytest.mark.parametrize("given", ["from", "to", "neither", "both"])
def test_pair_stats_windows_are_the_same_rule_in_both_apis(
    client: TestClient, mainnet_data: MainnetData, given: str
) -> None:
    """One window rule (`processors.dex_trades.pair_stats.stats_window`): a missing end is now, a missing start
    is 24 hours before the end, in REST (`from`/`to`) and GraphQL (`since`/`until`) alike. Open windows included:
    the answers' own `since`/`until` must agree, and so must every number."""
    key = mainnet_data.keys["full"]
    trades = stored(mainnet_data.url, "dex_trades", FULL)
    pair = _top(trades, "pair")
    middle = sorted(t["closed_at"] for t in trades)[len(trades) // 2]
    bounds = {"from": middle.isoformat(), "to": middle.isoformat()}
    if given == "both":
        bounds["from"] = (middle - timedelta(hours=1)).isoformat()
    elif given != "neither":
        bounds = {given: bounds[given]}
    else:
        bounds = {}
    rest = client.get(
        f"/api/v1/{FULL}/dex/pairs/{pair.replace('/', '%2F')}/stats", params=bounds, headers=bearer(key)
    )
    assert rest.status_code == 200, rest.text
    rest_stats = rest.json()["data"][0]
    body = client.post(
        f"/api/v1/{FULL}/graphql",
        json={
            "query": "query($p: [String!]!, $s: DateTime, $u: DateTime) { pairStats(pairs: $p, since: $s, until: $u) "
            "{ since until tradeCount baseVolume counterVolume open close vwap } }",
            "variables": {"p": [pair], "s": bounds.get("from"), "u": bounds.get("to")},
        },
        headers=bearer(key),
    ).json()
    assert "errors" not in body, body
    (graphql_stats,) = body["data"]["pairStats"]
    rest_since, rest_until = _norm(rest_stats["since"]), _norm(rest_stats["until"])
    graphql_since, graphql_until = _norm(graphql_stats["since"]), _norm(graphql_stats["until"])
    now = datetime.now(UTC)
    if "to" in bounds:
        assert rest_until == graphql_until == middle
    else:  # now, as each request saw it
        assert abs(rest_until - now) < timedelta(minutes=1) and abs(graphql_until - now) < timedelta(
            minutes=1
        )
    if "from" in bounds:
        assert rest_since == graphql_since == datetime.fromisoformat(bounds["from"])
    else:
        assert rest_since == rest_until - timedelta(hours=24) and graphql_since == graphql_until - timedelta(
            hours=24
        )
    expected = len([t for t in trades if t["pair"] == pair and rest_since <= t["closed_at"] <= rest_until])
    assert graphql_stats["tradeCount"] == rest_stats["trade_count"] == expected
    for name in ("base_volume", "counter_volume", "open", "close", "vwap"):
        assert graphql_stats[camel(name)] == rest_stats[name], name
