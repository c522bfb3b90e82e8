"""Refusals of the REST routes: every bad value is a 400 naming its parameter, a disabled processor's route is
a 404 naming the processor to enable, another tenant's path is a 404, a key without the scope is a 403; every
answer to an authenticated caller carries `Latest-Ledger`."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.api.helpers import bearer
from tests.api.rest.helpers import get, stored
from tests.mainnet_data import FULL, LAST, PARTIAL, MainnetData

ACCOUNT = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
USDC = f"USDC:{ACCOUNT}"

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    # path, params, the parameter named, error code
    ("/token-transfers", {"limit": "0"}, "limit", "invalid_parameter"),
    ("/token-transfers", {"limit": "201"}, "limit", "invalid_parameter"),
    ("/token-transfers", {"limit": "ten"}, "limit", "invalid_parameter"),
    ("/token-transfers", {"order": "sideways"}, "order", "invalid_parameter"),
    ("/token-transfers", {"from": "yesterday"}, "from", "invalid_parameter"),
    ("/token-transfers", {"to": "2025-13-01"}, "to", "invalid_parameter"),
    ("/token-transfers", {"from": "0"}, "from", "invalid_parameter"),
    ("/token-transfers", {"from": "63093001", "to": "63092982"}, "from", "invalid_parameter"),
    ("/token-transfers", {"from": "2025-02-01", "to": "2025-01-01"}, "from", "invalid_parameter"),
    ("/token-transfers", {"cursor": "%%%not-base64"}, "cursor", "invalid_cursor"),
    ("/token-transfers", {"colour": "blue"}, "colour", "unknown_parameter"),
    ("/token-transfers", {"account": "GABC"}, "account", "invalid_parameter"),
    ("/token-transfers", {"sender": CONTRACT + "X"}, "sender", "invalid_parameter"),
    ("/token-transfers", {"asset": "USDC"}, "asset", "invalid_parameter"),
    ("/token-transfers", {"asset_issuer": CONTRACT}, "asset_issuer", "invalid_parameter"),
    ("/token-transfers", {"asset_code": ["USDC", "EURC"]}, "asset_code", "invalid_parameter"),
    ("/token-transfers", {"event_type": "transfer,teleport"}, "event_type", "invalid_parameter"),
    ("/token-transfers", {"event_type": "transfer,"}, "event_type", "invalid_parameter"),
    ("/token-transfers", {"contract_id": ACCOUNT}, "contract_id", "invalid_parameter"),
    ("/token-transfers", {"min_amount": "-5"}, "min_amount", "invalid_parameter"),
    ("/token-transfers", {"successful": "maybe"}, "successful", "invalid_parameter"),
    ("/contract-events", {"type": "loud"}, "type", "invalid_parameter"),
    ("/contract-events", {"topic0": ["a", "b"]}, "topic0", "invalid_parameter"),
    # NUL characters: no stored value holds one, and PostgreSQL refuses them in a parameter.
    ("/contract-events", {"event_type": "tran\x00sfer"}, "event_type", "invalid_parameter"),
    ("/contract-events", {"topic1": "\x00"}, "topic1", "invalid_parameter"),
    ("/token-transfers", {"asset_code": "\x00"}, "asset_code", "invalid_parameter"),
    ("/dex/trades", {"pool_id": "L\x00"}, "pool_id", "invalid_parameter"),
    (f"/contracts/{CONTRACT}/data", {"key_hash": "ab\x00"}, "key_hash", "invalid_parameter"),
    (f"/contracts/{ACCOUNT}/events", {}, "contract_id", "invalid_parameter"),
    ("/dex/trades", {"base": "native"}, "counter", "invalid_parameter"),
    ("/dex/trades", {"counter": USDC}, "base", "invalid_parameter"),
    ("/dex/trades", {"base": "nat!ve", "counter": USDC}, "base", "invalid_parameter"),
    ("/dex/trades", {"trade_type": "barter"}, "trade_type", "invalid_parameter"),
    ("/dex/volume", {"interval": "2m"}, "interval", "invalid_parameter"),
    ("/dex/volume", {"base": "native", "counter": "EUR"}, "counter", "invalid_parameter"),
    ("/dex/pairs/native/stats", {}, "pair", "invalid_parameter"),
    (f"/dex/pairs/native/{USDC}/stats", {"from": "63092982"}, "from", "invalid_parameter"),
    (f"/dex/pairs/native/{USDC}/stats", {"limit": "5"}, "limit", "unknown_parameter"),
    ("/accounts/nobody/balance-history", {}, "account", "invalid_parameter"),
    (f"/accounts/{ACCOUNT}/current-balance", {"source": "mattress"}, "source", "invalid_parameter"),
    (f"/accounts/{ACCOUNT}/balance-history", {"min_balance": "1.5"}, "min_balance", "invalid_parameter"),
    (f"/accounts/{ACCOUNT}/token-balances", {"from": "63092982"}, "from", "unknown_parameter"),
    (f"/accounts/{ACCOUNT}/token-balances", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor", "invalid_cursor"),
    (f"/contracts/{CONTRACT}/data", {"durability": "forever"}, "durability", "invalid_parameter"),
    (f"/contracts/{CONTRACT}/data", {"key_symbol": "not a symbol"}, "key_symbol", "invalid_parameter"),
    (
        f"/contracts/{CONTRACT}/storage",
        {"include_deleted": "perhaps"},
        "include_deleted",
        "invalid_parameter",
    ),
]


@pytest.mark.parametrize(("path", "params", "parameter", "code"), BAD, ids=[f"{p}?{q}" for p, q, *_ in BAD])
def test_bad_values_are_400s_naming_the_parameter(
    client: TestClient,
    mainnet_data: MainnetData,
    path: str,
    params: dict[str, Any],
    parameter: str,
    code: str,
) -> None:
    response = get(client, FULL, path, mainnet_data.keys["full"], **params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(f"{parameter}:"), error
    assert response.headers["Latest-Ledger"] == str(LAST)


def test_a_cursor_is_bound_to_its_filters(client: TestClient, mainnet_data: MainnetData) -> None:
    key = mainnet_data.keys["full"]
    cursor = get(client, FULL, "/token-transfers", key, event_type="fee").json()["metadata"]["next_cursor"]
    assert get(client, FULL, "/token-transfers", key, event_type="fee", cursor=cursor).status_code == 200
    response = get(client, FULL, "/token-transfers", key, event_type="mint", cursor=cursor)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "cursor_filters_mismatch"
    # a cursor pages either way: the same position read in descending order
    assert (
        get(client, FULL, "/token-transfers", key, event_type="fee", cursor=cursor, order="desc").status_code
        == 200
    )


def test_a_forged_cursor_is_a_400(client: TestClient, mainnet_data: MainnetData) -> None:
    """A cursor is only base64 of a fingerprint and a position: one rebuilt around a forged position is refused
    like a malformed one, never a 500."""
    key = mainnet_data.keys["full"]
    assets: dict[str, set[str]] = {}
    for row in stored(mainnet_data.url, "account_balances", FULL):
        assets.setdefault(row["account_id"], set()).add(row["asset"])
    holder = max(assets, key=lambda account: len(assets[account]))
    path = f"/accounts/{holder}/current-balance"
    real = get(client, FULL, path, key, limit=1).json()["metadata"]["next_cursor"]
    assert real is not None
    padded = real + "=" * (-len(real) % 4)
    fingerprint = base64.urlsafe_b64decode(padded).decode().split("|", 1)[0]
    for position in ("[1,2]", '["a\\u0000","b"]', "[[1],{}]", "[null,null]"):
        forged = base64.urlsafe_b64encode(f"{fingerprint}|{position}".encode()).decode().rstrip("=")
        response = get(client, FULL, path, key, cursor=forged)
        assert response.status_code == 400, (position, response.text)
        assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("path", "processor"),
    [
        (f"/accounts/{ACCOUNT}/balance-history", "AccountBalanceProcessor"),
        (f"/accounts/{ACCOUNT}/current-balance", "AccountBalanceProcessor"),
        ("/dex/trades", "DEXTradeProcessor"),
        (f"/dex/pairs/native/{USDC}/stats", "DEXTradeProcessor"),
        ("/dex/volume", "DEXVolumeProcessor"),
        (f"/contracts/{CONTRACT}/data", "ContractDataProcessor"),
        (f"/contracts/{CONTRACT}/storage", "ContractDataProcessor"),
    ],
)
def test_routes_of_disabled_processors_are_404s_naming_the_processor(
    client: TestClient, mainnet_data: MainnetData, path: str, processor: str
) -> None:
    response = get(client, PARTIAL, path, mainnet_data.keys["partial"])
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "processor_not_enabled" and error["processor"] == processor
    assert processor in error["message"]
    assert response.headers["Latest-Ledger"] == str(LAST)


def test_other_tenants_and_unknown_paths_are_404s(client: TestClient, mainnet_data: MainnetData) -> None:
    for tenant in (PARTIAL, "no-such-tenant"):
        response = get(client, tenant, "/token-transfers", mainnet_data.keys["full"])
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "tenant_not_found"
    response = get(client, FULL, "/token-transfer", mainnet_data.keys["full"])
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert response.headers["Latest-Ledger"] == str(LAST)


def test_a_key_without_the_processor_scope_is_403(client: TestClient, mainnet_data: MainnetData) -> None:
    key = mainnet_data.keys["full_transfers_only"]
    assert get(client, FULL, "/token-transfers", key).status_code == 200
    for path in ("/contract-events", "/dex/trades", "/dex/volume", f"/contracts/{CONTRACT}/storage"):
        response = get(client, FULL, path, key)
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "insufficient_scope" and "read:" in error["message"]


def test_every_authenticated_answer_carries_latest_ledger(
    client: TestClient, mainnet_data: MainnetData
) -> None:
    key = mainnet_data.keys["full"]
    for path in ("/", "/openapi.json", "/token-transfers", "/dex/volume"):
        response = client.get(f"/api/v1/{FULL}{path}", headers=bearer(key))
        assert response.status_code == 200, path
        assert response.headers["Latest-Ledger"] == str(LAST), path
    assert "Latest-Ledger" not in client.get(f"/api/v1/{FULL}/token-transfers").headers  # 401: no tenant yet


def test_long_value_lists_are_refused(client: TestClient, mainnet_data: MainnetData) -> None:
    response = get(
        client, FULL, "/token-transfers", mainnet_data.keys["full"], account=",".join([ACCOUNT] * 101)
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "account" in error["message"] and "at most 100" in error["message"], error


def test_exact_token_balances_need_their_own_scope(client: TestClient, mainnet_data: MainnetData) -> None:
    """The route belongs to token transfers, but exact balances are the token balance processor's data: a key
    scoped for transfers only is refused, as GraphQL refuses `Account.balances` to it."""
    response = get(
        client, FULL, f"/accounts/{ACCOUNT}/token-balances", mainnet_data.keys["full_transfers_only"]
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
    assert "read:token_balances" in response.json()["error"]["message"]
    assert (
        get(client, FULL, f"/accounts/{ACCOUNT}/token-balances", mainnet_data.keys["full"]).status_code == 200
    )
