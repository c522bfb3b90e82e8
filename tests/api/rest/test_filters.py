"""Every REST filter on the 20 mainnet ledgers returns exactly the stored rows that match it (computed here in
Python from the stored rows), and the same rows as the listing's own query (what GraphQL runs)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from core.ids import decode_cursor
from processors.registry import default_registry
from storage.db import create_engine
from storage.query import Query
from storage.router import QueryRouter
from tests.api.rest.helpers import get, read_all, stored
from tests.mainnet_data import FIRST, FULL, PARTIAL, MainnetData

Row = dict[str, Any]
TABLES = ("token_transfers", "contract_events", "dex_trades", "account_balances", "contract_data")


@pytest.fixture(scope="module")
def rows(mainnet_data: MainnetData) -> dict[str, list[Row]]:
    return {table: stored(mainnet_data.url, table, FULL) for table in TABLES}


def common(rows: list[Row], column: str, n: int = 0) -> Any:
    return Counter(r[column] for r in rows if r[column] is not None).most_common(n + 1)[n][0]


def ids(client: TestClient, key: str, path: str, **params: Any) -> list[str]:
    return [r["id"] for r in read_all(client, FULL, path, key, limit=200, **params)]


def expect(rows: list[Row], keep: Callable[[Row], bool]) -> list[str]:
    chosen = [r["id"] for r in rows if keep(r)]
    assert chosen, "the filter must select something in the corpus, or it proves nothing"
    return chosen


def test_token_transfer_filters(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    key, tt = mainnet_data.keys["full"], rows["token_transfers"]
    transfers = [r for r in tt if r["event_type"] == "transfer"]
    account, receiver = common(transfers, "from"), common(transfers, "to")
    usdc = next(r for r in tt if r["asset_code"] == "USDC")
    contract = common([r for r in tt if r["asset_type"] != "native"], "contract_id")
    big = sorted(abs(r["amount_raw"]) for r in tt)[len(tt) * 9 // 10]
    cases: list[tuple[dict[str, Any], Callable[[Row], bool]]] = [
        ({"account": account}, lambda r: account in (r["from"], r["to"])),
        ({"sender": account}, lambda r: r["from"] == account),
        ({"receiver": receiver}, lambda r: r["to"] == receiver),
        ({"asset": usdc["asset"]}, lambda r: r["asset"] == usdc["asset"]),
        ({"asset_code": "USDC"}, lambda r: r["asset_code"] == "USDC"),
        ({"asset_issuer": usdc["asset_issuer"]}, lambda r: r["asset_issuer"] == usdc["asset_issuer"]),
        ({"event_type": "mint,burn"}, lambda r: r["event_type"] in ("mint", "burn")),
        ({"contract_id": contract}, lambda r: r["contract_id"] == contract),
        ({"min_amount": str(big)}, lambda r: abs(r["amount_raw"]) >= big),
        ({"successful": "true"}, lambda r: r["in_successful_tx"]),
        ({"from": FIRST + 3, "to": FIRST + 5}, lambda r: FIRST + 3 <= r["ledger_sequence"] <= FIRST + 5),
        (
            {"event_type": "transfer", "asset_code": "USDC"},
            lambda r: r["event_type"] == "transfer" and r["asset_code"] == "USDC",
        ),
    ]
    for params, keep in cases:
        assert ids(client, key, "/token-transfers", **params) == expect(tt, keep), params
    # the tenant keeps no failed transactions (include_failed_txs is off), so this filter finds nothing
    assert ids(client, key, "/token-transfers", successful="false") == []


def test_account_rows_say_direction_and_counterparty(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    account = common([r for r in rows["token_transfers"] if r["event_type"] == "transfer"], "to")
    got = read_all(client, FULL, "/token-transfers", mainnet_data.keys["full"], account=account, limit=200)
    directions = Counter(r["direction"] for r in got)
    assert directions["received"] and directions["sent"]  # it receives transfers and pays fees
    for row in got:
        if row["direction"] == "sent":
            assert row["from"] == account and row["counterparty"] == row["to"]
        else:
            assert row["to"] == account and row["counterparty"] == row["from"]
    unfiltered = get(client, FULL, "/token-transfers", mainnet_data.keys["full"], limit=5).json()["data"]
    assert all("direction" not in r and "counterparty" not in r for r in unfiltered)


def test_time_bounds_accept_dates_and_date_times(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    key, trades = mainnet_data.keys["full"], rows["dex_trades"]
    middle = sorted({r["closed_at"] for r in trades})[len({r["closed_at"] for r in trades}) // 2]
    iso = middle.isoformat().replace("+00:00", "Z")
    assert ids(client, key, "/dex/trades", **{"from": iso}) == expect(
        trades, lambda r: r["closed_at"] >= middle
    )
    assert ids(client, key, "/dex/trades", to=iso) == expect(trades, lambda r: r["closed_at"] <= middle)
    day = middle.date().isoformat()  # `to` with a date alone includes that whole day
    assert ids(client, key, "/dex/trades", to=day) == [r["id"] for r in trades]
    assert ids(client, key, "/dex/trades", **{"from": day, "to": FIRST + 1}) == expect(
        trades, lambda r: r["ledger_sequence"] <= FIRST + 1
    )
    assert read_all(client, FULL, "/dex/trades", key, to="2000-01-01") == []


def test_contract_event_filters(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    key, ce = mainnet_data.keys["full"], rows["contract_events"]
    contract = common(ce, "contract_id", 1)
    topic1, topic2 = common(ce, "topic1"), common(ce, "topic2")  # once: `keep` runs for every row
    cases: list[tuple[dict[str, Any], Callable[[Row], bool]]] = [
        ({"contract_id": contract}, lambda r: r["contract_id"] == contract),
        ({"event_type": "transfer"}, lambda r: r["event_type"] == "transfer"),
        ({"type": "contract"}, lambda r: r["type"] == "contract"),
        ({"topic0": "mint"}, lambda r: r["topic0"] == "mint"),
        ({"topic1": topic1}, lambda r: r["topic1"] == topic1),
        ({"topic2": topic2}, lambda r: r["topic2"] == topic2),
        ({"topic3": "native"}, lambda r: r["topic3"] == "native"),
        ({"successful": "true"}, lambda r: r["in_successful_tx"]),
    ]
    for params, keep in cases:
        assert ids(client, key, "/contract-events", **params) == expect(ce, keep), params
    assert ids(client, key, f"/contracts/{contract}/events", event_type="transfer") == expect(
        ce, lambda r: r["contract_id"] == contract and r["event_type"] == "transfer"
    )


def test_dex_filters(client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]) -> None:
    key, trades = mainnet_data.keys["full"], rows["dex_trades"]
    pair = common(trades, "pair")
    base, counter = pair.split("/")
    seller = common(trades, "seller")
    pool = common(trades, "pool_id")
    assert ids(client, key, "/dex/trades", base=base, counter=counter) == expect(
        trades, lambda r: r["pair"] == pair
    )
    # a pair named the other way round is the same pair
    assert ids(client, key, "/dex/trades", base=counter, counter=base) == expect(
        trades, lambda r: r["pair"] == pair
    )
    assert ids(client, key, "/dex/trades", account=seller) == expect(
        trades, lambda r: seller in (r["seller"], r["buyer"])
    )
    assert ids(client, key, "/dex/trades", trade_type="liquidity_pool") == expect(
        trades, lambda r: r["trade_type"] == "liquidity_pool"
    )
    assert ids(client, key, "/dex/trades", pool_id=pool) == expect(trades, lambda r: r["pool_id"] == pool)
    candles = read_all(client, FULL, "/dex/volume", key, base=base, counter=counter, interval="1m", limit=200)
    assert candles and {(c["pair"], c["interval"]) for c in candles} == {(pair, "1m")}
    assert sum(c["trade_count"] for c in candles) == len(expect(trades, lambda r: r["pair"] == pair))
    assert sum(int(c["base_volume"]) for c in candles) > 0


def test_pair_stats_from_candles_and_from_trades_agree(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    trades = rows["dex_trades"]
    pair = common(trades, "pair")
    day = trades[0]["closed_at"].date().isoformat()
    response = get(
        client, FULL, f"/dex/pairs/{pair}/stats", mainnet_data.keys["full"], **{"from": day, "to": day}
    )
    assert response.status_code == 200, response.text
    (stats,) = response.json()["data"]
    assert stats["pair"] == pair and stats["source"].startswith("dex_volume")
    assert stats["trade_count"] == len([r for r in trades if r["pair"] == pair])
    encoded = pair.replace("/", "%2F")  # the slash may come percent-encoded
    again = client.get(
        f"/api/v1/{FULL}/dex/pairs/{encoded}/stats?from={day}&to={day}",
        headers={"Authorization": f"Bearer {mainnet_data.keys['full']}"},
    ).json()["data"][0]
    assert again == stats
    empty = get(client, FULL, f"/dex/pairs/{pair}/stats", mainnet_data.keys["full"], to="2001-01-01").json()
    assert empty["data"][0]["trade_count"] == 0 and empty["data"][0]["close"] is None


def test_balance_and_contract_data_filters(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    key, ab, cd = mainnet_data.keys["full"], rows["account_balances"], rows["contract_data"]
    holder = common([r for r in ab if r["source"] == "trustline"], "account_id")
    mine = [r for r in ab if r["account_id"] == holder and not r["deleted"]]
    asset = common([r for r in mine if r["asset"] != "native"], "asset")
    path = f"/accounts/{holder}/balance-history"
    assert ids(client, key, path, asset=asset) == expect(mine, lambda r: r["asset"] == asset)
    assert ids(client, key, path, source="account") == expect(mine, lambda r: r["source"] == "account")
    threshold = sorted(r["balance_raw"] for r in mine)[len(mine) // 2]
    assert ids(client, key, path, min_balance=str(threshold)) == expect(
        mine, lambda r: r["balance_raw"] >= threshold
    )
    contract = common(cd, "contract_id")
    theirs = [r for r in cd if r["contract_id"] == contract]
    symbol, key_hash = common(theirs, "key_symbol"), common(theirs, "key_hash")
    data = f"/contracts/{contract}/data"
    assert ids(client, key, data, key_symbol=symbol) == expect(theirs, lambda r: r["key_symbol"] == symbol)
    assert ids(client, key, data, key_hash=key_hash) == expect(theirs, lambda r: r["key_hash"] == key_hash)
    assert ids(client, key, data, durability="persistent") == expect(
        theirs, lambda r: r["durability"] == "persistent"
    )
    assert ids(client, key, data, change="updated") == expect(theirs, lambda r: r["change"] == "updated")
    current = read_all(client, FULL, f"/contracts/{contract}/storage", key, key_symbol=symbol, limit=200)
    assert current and {r["key_symbol"] for r in current} == {symbol}
    assert {r["key_hash"] for r in current} == {r["key_hash"] for r in theirs if r["key_symbol"] == symbol}


def test_token_balances_without_the_balance_processor_are_sums_of_transfers(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    key = mainnet_data.keys["partial"]
    transfers = stored(mainnet_data.url, "token_transfers", PARTIAL)
    holder = common([r for r in transfers if r["event_type"] == "transfer"], "to")
    expected: Counter[str] = Counter()
    for r in transfers:
        if r["in_successful_tx"] or r["event_type"] == "fee":
            if r["to"] == holder:
                expected[r["asset"]] += r["amount_raw"]
            if r["from"] == holder:
                expected[r["asset"]] -= r["amount_raw"]
    got = read_all(client, PARTIAL, f"/accounts/{holder}/token-balances", key, limit=1)
    assert {r["asset"]: int(r["balance_raw"]) for r in got} == dict(expected)
    assert all(r["exact"] is False and r["source"] == "transfers" for r in got)
    assert [r["asset"] for r in got] == sorted(expected)
    one = next(iter(expected))
    assert [
        r["asset"] for r in read_all(client, PARTIAL, f"/accounts/{holder}/token-balances", key, asset=one)
    ] == [one]


def _listing_rows(url: str, listing: Any, params: dict[str, Any]) -> list[Row]:
    async def run() -> list[Row]:
        engine = create_engine(url)
        try:
            router = QueryRouter(engine)
            query = Query(
                tenant_id=FULL,
                table=listing.table,
                filters=listing.to_filters(listing.filters.model_validate(params)),
                time_column=listing.time_column,
                limit=200,
            )
            out: list[Row] = []
            while True:
                page = await router.fetch(query)
                out.extend(page.rows)
                if page.next_cursor is None:
                    return out
                query = query.replace(after=decode_cursor(page.next_cursor, query.fingerprint))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_rest_rows_equal_the_listing_query_that_graphql_runs(
    client: TestClient, mainnet_data: MainnetData, rows: dict[str, list[Row]]
) -> None:
    """REST builds its Query from the listing's filter model and `to_filters`, as GraphQL resolvers do: for the
    same filters on every processor's listing, the REST rows are the listing query's rows."""
    key = mainnet_data.keys["full"]
    listings = {listing.name: listing for p in default_registry().processors for listing in p.listings}
    pair = common(rows["dex_trades"], "pair")
    account = common(rows["account_balances"], "account_id")
    contract = common(rows["contract_data"], "contract_id")
    cases = [
        ("token_transfers", "/token-transfers", {"event_type": "mint"}, {"event_types": ["mint"]}),
        ("contract_events", "/contract-events", {"type": "contract"}, {"types": ["contract"]}),
        ("account_balances", f"/accounts/{account}/balance-history", {}, {"accounts": [account]}),
        ("account_balances_current", f"/accounts/{account}/current-balance", {}, {"accounts": [account]}),
        ("dex_trades", "/dex/trades", {"trade_type": "orderbook"}, {"trade_types": ["orderbook"]}),
        ("dex_volume", "/dex/volume", {"interval": "5m"}, {"intervals": ["5m"]}),
        ("dex_closed_candles", "/dex/volume/closed", {"interval": "1m"}, {"intervals": ["1m"]}),
        ("contract_data", f"/contracts/{contract}/data", {}, {"contracts": [contract]}),
        ("contract_data_current", f"/contracts/{contract}/storage", {}, {"contracts": [contract]}),
        ("token_balances", f"/accounts/{account}/token-balances", {}, {"accounts": [account]}),
    ]
    assert {name for name, *_ in cases} == set(listings)  # every listing of every processor
    for name, path, params, model in cases:
        rest = read_all(client, FULL, path, key, limit=200, **params)
        direct = _listing_rows(mainnet_data.url, listings[name], model)
        assert rest, name
        keys = [c.name for c in listings[name].table.primary_key.columns if c.name != "tenant_id"]
        assert [
            [
                r[k]
                if not isinstance(r[k], datetime)
                else r[k].astimezone(UTC).isoformat().replace("+00:00", "Z")
                for k in keys
            ]
            for r in direct
        ] == [[r[k] for k in keys] for r in rest], name
    assert pair
