"""Every REST route on the 20 mainnet ledgers: paging through all rows with `next_cursor` in both orders
returns each row once, in order, equal to what is stored; the envelope's counts agree."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.rest_list import COUNT_CAP
from tests.api.rest.helpers import get, read_all, stored
from tests.mainnet_data import FULL, MainnetData

AMOUNTS = {
    "token_transfers": ("amount_raw",),
    "contract_events": (),
    "dex_trades": ("offer_id", "sold_amount", "bought_amount", "price_n", "price_d"),  # 64-bit ids too
    "account_balances": (
        "balance_raw",
        "buying_liabilities",
        "selling_liabilities",
        "limit",
        "previous_balance_raw",
    ),
    "contract_data": (),
}


pytestmark = pytest.mark.heavy(99)


def as_rest(row: dict[str, Any], amounts: tuple[str, ...]) -> dict[str, Any]:
    """A stored row as the REST API shows it: amounts as strings, times in ISO 8601 with Z."""
    out = dict(row)
    for name in amounts:
        if out[name] is not None:
            out[name] = str(out[name])
    for name, value in out.items():
        if isinstance(value, datetime):
            out[name] = value.isoformat().replace("+00:00", "Z")
    return out


def most_common(rows: list[dict[str, Any]], column: str) -> str:
    return Counter(r[column] for r in rows if r[column]).most_common(1)[0][0]


@pytest.fixture(scope="module")
def history(mainnet_data: MainnetData) -> dict[str, list[dict[str, Any]]]:
    return {table: stored(mainnet_data.url, table, FULL) for table in AMOUNTS}


def routes_with_rows(
    history: dict[str, list[dict[str, Any]]],
) -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """route -> (path, table, the stored rows it must return in ascending order)."""
    account = most_common(history["account_balances"], "account_id")
    events_contract = most_common(history["contract_events"], "contract_id")
    data_contract = most_common(history["contract_data"], "contract_id")
    balances = [r for r in history["account_balances"] if r["account_id"] == account and not r["deleted"]]
    return {
        "token-transfers": ("/token-transfers", "token_transfers", history["token_transfers"]),
        "contract-events": ("/contract-events", "contract_events", history["contract_events"]),
        "contract-events-of": (
            f"/contracts/{events_contract}/events",
            "contract_events",
            [r for r in history["contract_events"] if r["contract_id"] == events_contract],
        ),
        "dex-trades": ("/dex/trades", "dex_trades", history["dex_trades"]),
        "balance-history": (f"/accounts/{account}/balance-history", "account_balances", balances),
        "contract-data": (
            f"/contracts/{data_contract}/data",
            "contract_data",
            [r for r in history["contract_data"] if r["contract_id"] == data_contract],
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "token-transfers",
        "contract-events",
        "contract-events-of",
        "dex-trades",
        "balance-history",
        "contract-data",
    ],
)
def test_history_routes_page_through_every_stored_row(
    client: TestClient, mainnet_data: MainnetData, history: dict[str, list[dict[str, Any]]], name: str
) -> None:
    path, table, expected = routes_with_rows(history)[name]
    key = mainnet_data.keys["full"]
    assert expected, f"{name}: no rows in the corpus"
    asc = read_all(client, FULL, path, key, limit=200)
    desc = read_all(client, FULL, path, key, limit=133, order="desc")
    assert [r["id"] for r in asc] == [r["id"] for r in expected]  # nothing missing, repeated or out of order
    assert desc == asc[::-1]
    assert asc == [as_rest(r, AMOUNTS[table]) for r in expected]  # every column, amounts as strings
    first = get(client, FULL, path, key, limit=1).json()["metadata"]
    assert first["total_results"] == min(len(expected), COUNT_CAP)
    assert first["total_results_exact"] == (len(expected) <= COUNT_CAP)


def test_current_routes_page_in_both_orders(
    client: TestClient, mainnet_data: MainnetData, history: dict[str, list[dict[str, Any]]]
) -> None:
    key = mainnet_data.keys["full"]
    account = most_common(history["account_balances"], "account_id")
    holder = most_common(history["token_transfers"], "to")
    contract = most_common(history["contract_data"], "contract_id")
    for path, unique in (
        (f"/accounts/{account}/current-balance", ("asset",)),
        (f"/accounts/{holder}/token-balances", ("asset",)),
        (f"/contracts/{contract}/storage", ("key_hash",)),
        ("/dex/volume", ("pair", "interval", "bucket_start")),
    ):
        asc = read_all(client, FULL, path, key, limit=7)
        desc = read_all(client, FULL, path, key, limit=5, order="desc")
        assert asc, path
        assert desc == asc[::-1], path
        keys = [tuple(r[k] for k in unique) for r in asc]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), path
        meta = get(client, FULL, path, key, limit=1).json()["metadata"]
        assert meta["total_results"] == min(len(asc), COUNT_CAP), path
        assert meta["total_results_exact"] == (len(asc) <= COUNT_CAP), path


def test_current_balance_equals_last_history_row_per_asset(
    client: TestClient, mainnet_data: MainnetData, history: dict[str, list[dict[str, Any]]]
) -> None:
    key = mainnet_data.keys["full"]
    account = most_common(history["account_balances"], "account_id")
    current = read_all(client, FULL, f"/accounts/{account}/current-balance", key, limit=200)
    last: dict[str, dict[str, Any]] = {}
    for row in read_all(client, FULL, f"/accounts/{account}/balance-history", key, limit=200):
        last[row["asset"]] = row
    assert {r["asset"]: r["balance_raw"] for r in current} == {a: r["balance_raw"] for a, r in last.items()}
    assert all(isinstance(r["balance_raw"], str) for r in current)


def test_cursor_now_starts_after_the_newest_row(client: TestClient, mainnet_data: MainnetData) -> None:
    key = mainnet_data.keys["full"]
    body = get(client, FULL, "/dex/trades", key, cursor="now").json()
    assert body["data"] == []
    assert body["metadata"]["next_cursor"]  # a position to poll from
    again = get(client, FULL, "/dex/trades", key, cursor=body["metadata"]["next_cursor"]).json()
    assert again["data"] == []
    newest = get(client, FULL, "/dex/trades", key, cursor="now", order="desc", limit=1).json()["data"]
    assert newest == get(client, FULL, "/dex/trades", key, order="desc", limit=1).json()["data"]
