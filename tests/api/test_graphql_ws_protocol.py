"""The GraphQL WebSocket protocols at `/api/v1/{id}/graphql` (api.graphql_ws), driven frame by frame through the
app (Starlette's TestClient): auth from connection_init or the header, the close codes, ping/pong, limits,
per-field scopes, a revoked key, the legacy protocol. The rows' flow (catch-up, live, replicas, slow consumers)
is in test_graphql_ws_live.py, against real server processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from tests.api.helpers import ADMIN, bearer, onboard, sql

PATH = "/api/v1/acme-wallet/graphql"
NEW = "graphql-transport-ws"
LEGACY = "graphql-ws"
TRANSFERS = "subscription { onTokenTransfer { id amount } }"
EVENTS = "subscription { onContractEvent { id } }"


@contextmanager
def socket(
    client: TestClient, protocol: str = NEW, headers: dict[str, str] | None = None, path: str = PATH
) -> Iterator[Any]:
    with client.websocket_connect(path, subprotocols=[protocol], headers=dict(headers or {})) as ws:
        yield ws


_OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def _leave_sessions(make_client: Callable[..., TestClient]) -> Iterator[None]:
    """Leave the sessions `connect` opened before their app stops (one still running is cancelled)."""
    yield
    while _OPEN:
        with suppress(Exception):
            _OPEN.pop().__exit__(None, None, None)


def connect(client: TestClient, secret: str, protocol: str = NEW, **payload: Any) -> Any:
    """An acknowledged connection, left at the end of the test."""
    ws = client.websocket_connect(PATH, subprotocols=[protocol]).__enter__()
    _OPEN.append(ws)
    ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}", **payload}})
    assert ws.receive_json() == {"type": "connection_ack"}
    if protocol == LEGACY:
        assert ws.receive_json() == {"type": "ka"}
    return ws


def closed_with(ws: Any) -> tuple[int, str]:
    """Read until the server closes; its code and reason."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_text()
    return closed.value.code, closed.value.reason


def end(ws: Any) -> None:
    """Have the server end the connection (a second connection_init: 4429), so that leaving the session finds
    the app finished (the test client cancels an app still running)."""
    ws.send_json({"type": "connection_init"})
    assert closed_with(ws)[0] == 4429


def subscribe(ws: Any, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    ws.send_json({"id": op_id, "type": "subscribe", "payload": payload})


def assert_open(ws: Any) -> None:
    ws.send_json({"type": "ping", "payload": {"n": 1}})
    assert ws.receive_json() == {"type": "pong", "payload": {"n": 1}}


@pytest.fixture
def tenant(client: TestClient) -> str:
    secret: str = onboard(client)["api_key"]["secret"]
    return secret


def test_a_subprotocol_is_required(client: TestClient, tenant: str) -> None:
    with client.websocket_connect(PATH) as ws:
        assert closed_with(ws)[0] == 4406


@pytest.mark.parametrize(
    ("payload", "code", "reason"),
    [
        ({}, 4401, "missing_api_key"),
        ({"Authorization": "Basic abc"}, 4401, "missing_api_key"),
        ({"Authorization": "Bearer ofk_" + "x" * 43}, 4401, "invalid_api_key"),
        ({"authorization": "Bearer not-a-key"}, 4401, "invalid_api_key"),
    ],
    ids=["none", "not-bearer", "unknown", "malformed"],
)
def test_bad_keys_in_connection_init_close_4401(
    client: TestClient, tenant: str, payload: dict[str, Any], code: int, reason: str
) -> None:
    with socket(client) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        closed = closed_with(ws)
    assert closed[0] == code and closed[1].startswith(reason)
    audit = sql(str(client.app.state.flow.settings.database_url), "SELECT action, status FROM audit_log")  # type: ignore[attr-defined]
    assert ("auth.refused", 401) in audit


def test_a_bad_key_in_the_upgrade_header_is_the_handshakes_401(client: TestClient, tenant: str) -> None:
    with pytest.raises(WebSocketDenialResponse) as denied:
        with socket(client, headers=bearer("ofk_" + "y" * 43)):
            pass
    assert denied.value.status_code == 401
    assert denied.value.json()["error"]["code"] == "invalid_api_key"


def test_the_key_in_the_header_or_nested_under_headers(client: TestClient, tenant: str) -> None:
    with socket(client, headers=bearer(tenant)) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        end(ws)
    with socket(client) as ws:
        ws.send_json(
            {"type": "connection_init", "payload": {"headers": {"AUTHORIZATION": f"Bearer {tenant}"}}}
        )
        assert ws.receive_json() == {"type": "connection_ack"}
        end(ws)


def test_another_tenants_key_closes_4403(client: TestClient, tenant: str) -> None:
    other = onboard(client, "other-tenant")["api_key"]["secret"]
    with socket(client) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {other}"}})
        code, reason = closed_with(ws)
    assert code == 4403 and reason.startswith("tenant_not_found")


def test_missing_connection_init_times_out_4408(make_client: Callable[..., TestClient]) -> None:
    client = make_client(websocket_init_timeout_seconds=0.2)
    onboard(client)
    with socket(client) as ws:
        code, reason = closed_with(ws)
    assert code == 4408 and reason == "connection initialisation timeout"


def test_an_idle_connection_gets_keep_alive_pings_from_the_shared_timer(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(websocket_ping_seconds=0.2)
    secret = onboard(client)["api_key"]["secret"]
    first, second = connect(client, secret), connect(client, secret)
    for ws in (first, second, first, second):  # both connections, more than once: the ticker keeps ticking
        assert ws.receive_json() == {"type": "ping"}
    first.close()
    second.close()


def test_a_second_connection_init_closes_4429(client: TestClient, tenant: str) -> None:
    ws = connect(client, tenant)
    ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant}"}})
    assert closed_with(ws)[0] == 4429


def test_subscribe_before_ack_closes_4401(client: TestClient, tenant: str) -> None:
    with socket(client) as ws:
        subscribe(ws, "1", TRANSFERS)
        assert closed_with(ws)[0] == 4401


@pytest.mark.parametrize(
    "frame",
    ["not json", "[1, 2]", '{"no": "type"}', '{"type": "whatever"}', '{"type": "subscribe", "id": 5}'],
)
def test_bad_messages_close_4400(client: TestClient, tenant: str, frame: str) -> None:
    ws = connect(client, tenant)
    ws.send_text(frame)
    assert closed_with(ws)[0] == 4400


def test_a_message_nested_too_deeply_closes_4400(client: TestClient, tenant: str) -> None:
    """Variables nested past orjson's 254 levels broke the subscription's canonical JSON (see
    core.validation.check_json_shape): any message nested more than 64 levels deep is a bad message."""
    ws = connect(client, tenant)
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    subscribe(ws, "1", "subscription($a: [Int]) { onTokenTransfer { id } }", {"a": deep})
    assert closed_with(ws) == (4400, "bad_message: is nested more than 64 levels deep")


def test_oversized_message_closes_4400(make_client: Callable[..., TestClient]) -> None:
    client = make_client(websocket_max_message_bytes=1024)
    secret = onboard(client)["api_key"]["secret"]
    ws = connect(client, secret)
    subscribe(ws, "1", "query { _meta { latestLedger } }" + " " * 2000)
    code, reason = closed_with(ws)
    assert code == 4400 and "1024 bytes" in reason


def test_ping_pong_and_a_query_over_the_socket(client: TestClient, tenant: str) -> None:
    ws = connect(client, tenant)
    assert_open(ws)
    subscribe(ws, "q", "query { _meta { latestLedger } }")
    assert ws.receive_json() == {
        "id": "q",
        "type": "next",
        "payload": {"data": {"_meta": {"latestLedger": None}}},
    }
    assert ws.receive_json() == {"id": "q", "type": "complete"}
    ws.close()


def test_duplicate_operation_id_closes_4409(client: TestClient, tenant: str) -> None:
    ws = connect(client, tenant)
    subscribe(ws, "dup", TRANSFERS)
    assert_open(ws)  # the first is running (live: nothing to send yet)
    subscribe(ws, "dup", TRANSFERS)
    code, reason = closed_with(ws)
    assert code == 4409 and reason == "subscriber for dup already exists"


def test_unknown_field_is_an_error_and_the_connection_stays(client: TestClient, tenant: str) -> None:
    ws = connect(client, tenant)
    subscribe(ws, "1", "subscription { onNothing { id } }")
    message = ws.receive_json()
    assert message["type"] == "error" and message["id"] == "1"
    assert message["payload"][0]["extensions"]["code"] == "graphql_validation_failed"
    assert "onNothing" in message["payload"][0]["message"]
    assert_open(ws)
    ws.close()


def test_a_scope_the_key_lacks_is_refused_per_field(client: TestClient, tenant: str) -> None:
    created = client.post(
        "/admin/tenants/acme-wallet/keys", json={"scopes": ["read:token_transfers"]}, headers=ADMIN
    )
    narrow = created.json()["api_key"]["secret"]
    ws = connect(client, narrow)
    subscribe(ws, "events", EVENTS)
    message = ws.receive_json()
    assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "insufficient_scope"
    subscribe(ws, "transfers", TRANSFERS)  # the scope it has: the subscription runs
    assert_open(ws)
    ws.close()


def test_a_bad_after_or_filter_is_an_error_for_the_operation(client: TestClient, tenant: str) -> None:
    ws = connect(client, tenant)
    subscribe(ws, "1", 'subscription { onTokenTransfer(after: "yesterday") { id } }')
    message = ws.receive_json()
    assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "invalid_parameter"
    assert_open(ws)
    ws.close()


def test_subscriptions_per_connection_are_capped(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    secret = onboard(client, max_subscriptions_per_connection=1)["api_key"]["secret"]
    ws = connect(client, secret)
    subscribe(ws, "1", TRANSFERS)
    subscribe(ws, "2", TRANSFERS)
    message = ws.receive_json()
    assert message["id"] == "2" and message["payload"][0]["extensions"]["code"] == "too_many_subscriptions"
    ws.send_json({"id": "1", "type": "complete"})  # stopping one frees its place
    subscribe(ws, "3", TRANSFERS)
    assert_open(ws)
    ws.close()


def test_connections_per_tenant_are_capped(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    secret = onboard(client, max_websocket_connections=1)["api_key"]["secret"]
    first = connect(client, secret)
    with socket(client) as second:
        second.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
        code, reason = closed_with(second)
    assert code == 4429 and reason.startswith("too_many_connections")
    first.close()
    with socket(client) as third:  # the first one's place is free again
        third.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
        assert third.receive_json() == {"type": "connection_ack"}
        end(third)


def test_operation_starts_spend_the_rate_limit(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    secret = onboard(client, rate_limit_per_minute=3)["api_key"]["secret"]
    ws = connect(client, secret)  # one request: the connection
    subscribe(ws, "1", TRANSFERS)  # two
    subscribe(ws, "2", "query { _meta { latestLedger } }")  # three
    assert ws.receive_json()["type"] == "next"
    assert ws.receive_json() == {"id": "2", "type": "complete"}
    subscribe(ws, "3", TRANSFERS)
    refused = ws.receive_json()
    assert refused["id"] == "3" and refused["payload"][0]["extensions"]["code"] == "rate_limited"
    ws.close()
    flow = client.app.state.flow  # type: ignore[attr-defined]
    client.portal.call(flow.usage.flush)
    kinds = dict(
        sql(str(flow.settings.database_url), "SELECT kind, sum(count) FROM usage_counters GROUP BY kind")
    )
    assert kinds["websocket"] == 1 and kinds["subscription"] == 1 and kinds["graphql"] >= 1


def test_the_allowlist_applies_to_keys_sent_in_connection_init(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    secret = onboard(client, allowed_ips=["10.0.0.0/8"])["api_key"]["secret"]
    with socket(client) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {secret}"}})
        code, reason = closed_with(ws)
    assert code == 4403 and reason.startswith("ip_not_allowed")
    with pytest.raises(WebSocketDenialResponse) as denied:  # and to upgrades carrying the header
        with socket(client, headers=bearer(secret)):
            pass
    assert denied.value.status_code == 403


def test_a_key_revoked_while_connected_is_closed(make_client: Callable[..., TestClient]) -> None:
    client = make_client(auth_cache_seconds=1)
    body = onboard(client)
    ws = connect(client, body["api_key"]["secret"])
    subscribe(ws, "1", TRANSFERS)
    assert_open(ws)
    revoked = client.delete(f"/admin/tenants/acme-wallet/keys/{body['api_key']['id']}", headers=ADMIN)
    assert revoked.status_code in (200, 204)
    code, reason = closed_with(ws)
    assert code == 4401 and reason.startswith("invalid_api_key")


def test_the_legacy_protocol(client: TestClient, tenant: str) -> None:
    ws = connect(client, tenant, protocol=LEGACY)
    ws.send_json({"id": "q", "type": "start", "payload": {"query": "query { _meta { latestLedger } }"}})
    assert ws.receive_json() == {
        "id": "q",
        "type": "data",
        "payload": {"data": {"_meta": {"latestLedger": None}}},
    }
    assert ws.receive_json() == {"id": "q", "type": "complete"}
    ws.send_json({"id": "bad", "type": "start", "payload": {"query": "subscription { onNothing { id } }"}})
    error = ws.receive_json()
    assert error["type"] == "error" and error["payload"]["extensions"]["code"] == "graphql_validation_failed"
    ws.send_json({"id": "s", "type": "start", "payload": {"query": TRANSFERS}})
    ws.send_json({"id": "s", "type": "stop"})
    assert ws.receive_json() == {"id": "s", "type": "complete"}
    ws.send_json({"type": "connection_terminate"})
    assert closed_with(ws)[0] == 1000


def test_legacy_refusal_is_a_connection_error(client: TestClient, tenant: str) -> None:
    with socket(client, protocol=LEGACY) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        error = ws.receive_json()
        assert error["type"] == "connection_error" and error["payload"]["message"].startswith(
            "missing_api_key"
        )
        assert closed_with(ws)[0] == 4401
