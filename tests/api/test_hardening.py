"""Inputs an attacker or a careless client would send: none may bypass auth, silence the audit log, leak
credentials or produce a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from obsrvr_flow.wiring import build_app
from tests.api.helpers import ADMIN, ADMIN_TOKEN, LOOPBACK, bearer, onboard, settings_for, sql


def _db(client: TestClient) -> str:
    return str(client.app.state.flow.settings.database_url)  # type: ignore[attr-defined]


def test_auth_holds_under_a_root_path(migrated_pg: str) -> None:
    app = build_app(settings_for(migrated_pg))

    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        # What a proxy with --root-path or a parent Mount("/flow", app) hands the app.
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": "/flow", "path": "/flow" + scope["path"]}
        await app(scope, receive, send)

    with TestClient(mounted, client=LOOPBACK) as client:
        assert client.get("/admin/tenants").status_code == 401
        assert client.get("/api/v1/acme-wallet/").status_code == 401
        assert client.get("/admin/tenants", headers=ADMIN).status_code == 200


def test_oversized_request_values_do_not_silence_the_audit_log(client: TestClient) -> None:
    secret = onboard(client)["api_key"]["secret"]
    assert client.request("PROPFINDXYZ", "/admin/tenants").status_code == 401
    assert client.get("/api/v1/" + "x" * 300 + "/", headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/acme-wallet/", headers=bearer(secret)).status_code == 200
    actions = [row[0] for row in sql(_db(client), "SELECT action FROM audit_log ORDER BY id")]
    assert actions[-3:] == ["admin.refused", "auth.refused", "auth.accepted"]


def test_foreign_credentials_leave_no_prefix_in_the_audit_log(client: TestClient) -> None:
    onboard(client)
    assert client.get("/api/v1/acme-wallet/", headers=bearer(ADMIN_TOKEN)).status_code == 401
    rows = sql(_db(client), "SELECT key_prefix FROM audit_log WHERE action = 'auth.refused'")
    assert rows == [(None,)]
    assert ADMIN_TOKEN[:12] not in repr(sql(_db(client), "SELECT * FROM audit_log"))


def test_empty_scope_list_is_refused(client: TestClient) -> None:
    onboard(client)
    response = client.post("/admin/tenants/acme-wallet/keys", json={"scopes": []}, headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_scope"


@pytest.mark.parametrize(
    "body",
    [
        "customer:\n  id: acme\n  name: 2020-13-45\n",
        "customer:\n  id: " + "9" * 5000 + "\n",
        "[" * 2000 + "]" * 2000,
    ],
    ids=["bad-date", "huge-int", "deep-nesting"],
)
def test_hostile_yaml_is_a_clear_error(client: TestClient, body: str) -> None:
    response = client.post("/admin/tenants", content=body, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_config"


def test_websocket_without_key_is_closed_unauthorized(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    onboard(client)
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect(
            "/api/v1/acme-wallet/graphql", subprotocols=["graphql-transport-ws"]
        ) as socket:
            socket.send_json({"type": "connection_init"})
            socket.receive_text()
    assert closed.value.code == 4401
    assert closed.value.reason.startswith("missing_api_key")
