"""The admin API: onboarding, tenant CRUD, keys, and the admin credential checks (token and JWT)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.testclient import TestClient

from tests.api.helpers import ADMIN, JWT_SECRET, bearer, onboard, sql, tenant_yaml
from tests.servers import wait_until


def make_jwt(secret: str = JWT_SECRET, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "obsrvr-flow",
        "aud": "obsrvr-flow-admin",
        "sub": "ops@example",
        "exp": now + 300,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return str(jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(secret)))


def test_onboarding_returns_key_once_with_urls(client: TestClient) -> None:
    body = onboard(client)
    assert body["tenant"]["id"] == "acme-wallet"
    assert body["tenant"]["config_version"] == 1
    secret = body["api_key"]["secret"]
    assert secret.startswith("ofk_") and body["api_key"]["prefix"] == secret[:12]
    assert body["graphql_url"] == "http://127.0.0.1:8000/api/v1/acme-wallet/graphql"
    assert body["openapi_url"].endswith("/api/v1/acme-wallet/openapi.json")
    assert body["endpoints"][0]["path"] == "/api/v1/acme-wallet/"
    # The key works, and it is never shown again.
    assert client.get("/api/v1/acme-wallet/", headers=bearer(secret)).status_code == 200
    listed = client.get("/admin/tenants/acme-wallet", headers=ADMIN).json()
    assert all("secret" not in k for k in listed["keys"])
    assert secret not in orjson.dumps(listed).decode()


def test_onboarding_accepts_json(client: TestClient) -> None:
    import yaml

    doc = yaml.safe_load(tenant_yaml("json-tenant"))
    response = client.post("/admin/tenants", json=doc, headers=ADMIN)
    assert response.status_code == 201, response.text


def test_duplicate_tenant_refused(client: TestClient) -> None:
    onboard(client)
    response = client.post("/admin/tenants", content=tenant_yaml(), headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "tenant_exists"


def test_bad_config_names_the_path(client: TestClient) -> None:
    bad = tenant_yaml().replace(
        "rate_limit_per_minute: 1000", "rate_limit_per_minute: 1000\n    colour: blue"
    )
    response = client.post("/admin/tenants", content=bad, headers=ADMIN)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_config"
    assert any(line.startswith("customer.api.colour:") for line in error["errors"])
    assert sql(client.app.state.flow.settings.database_url, "SELECT count(*) FROM tenants") == [(0,)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"", "empty_body"), (b"\xff\xfe", "bad_encoding"), (b"customer: [1, 2", "invalid_config")],
)
def test_unreadable_bodies(client: TestClient, body: bytes, code: str) -> None:
    response = client.post("/admin/tenants", content=body, headers=ADMIN)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == code


def test_body_size_limit(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=100)
    response = client.post("/admin/tenants", content=tenant_yaml(), headers=ADMIN)
    assert response.status_code == 413


def test_list_get_update_delete(client: TestClient) -> None:
    onboard(client)
    onboard(client, "second-tenant")
    ids = [t["id"] for t in client.get("/admin/tenants", headers=ADMIN).json()["data"]]
    assert sorted(ids) == ["acme-wallet", "second-tenant"]

    updated = tenant_yaml(rate_limit_per_minute=5)
    response = client.put("/admin/tenants/acme-wallet", content=updated, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["tenant"]["config_version"] == 2
    assert response.json()["tenant"]["config"]["customer"]["api"]["rate_limit_per_minute"] == 5

    mismatch = client.put("/admin/tenants/second-tenant", content=updated, headers=ADMIN)
    assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == "id_mismatch"
    missing = client.put("/admin/tenants/nobody", content=tenant_yaml("nobody"), headers=ADMIN)
    assert missing.status_code == 404

    assert client.delete("/admin/tenants/acme-wallet", headers=ADMIN).status_code == 202  # purge queued
    wait_until(
        lambda: client.get("/admin/tenants/acme-wallet", headers=ADMIN).status_code == 404, 30, "the purge"
    )
    assert client.delete("/admin/tenants/acme-wallet", headers=ADMIN).status_code == 404


def test_keys_create_scoped_and_revoke(client: TestClient) -> None:
    first = onboard(client)["api_key"]
    response = client.post(
        "/admin/tenants/acme-wallet/keys",
        json={"scopes": ["read:token_transfers"], "name": "ci"},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    key = response.json()["api_key"]
    assert key["scopes"] == ["read:token_transfers"] and key["name"] == "ci"
    assert client.get("/api/v1/acme-wallet/", headers=bearer(key["secret"])).status_code == 200

    bad = client.post("/admin/tenants/acme-wallet/keys", json={"scopes": ["write:everything"]}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_scope"
    extra = client.post("/admin/tenants/acme-wallet/keys", json={"colour": "blue"}, headers=ADMIN)
    assert extra.status_code == 400

    assert client.delete(f"/admin/tenants/acme-wallet/keys/{key['id']}", headers=ADMIN).status_code == 204
    assert client.get("/api/v1/acme-wallet/", headers=bearer(key["secret"])).status_code == 401
    assert client.delete(f"/admin/tenants/acme-wallet/keys/{key['id']}", headers=ADMIN).status_code == 404
    # Revoking one key leaves the other working.
    assert client.get("/api/v1/acme-wallet/", headers=bearer(first["secret"])).status_code == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthorized"),
        ({"Authorization": "Bearer wrong-token"}, "invalid_admin_credential"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "unauthorized"),
        ({"Authorization": f"Bearer {make_jwt(exp=int(time.time()) - 10)}"}, "invalid_admin_credential"),
        ({"Authorization": f"Bearer {make_jwt(aud='someone-else')}"}, "invalid_admin_credential"),
        ({"Authorization": f"Bearer {make_jwt(iss='evil')}"}, "invalid_admin_credential"),
        ({"Authorization": f"Bearer {make_jwt(exp=None)}"}, "invalid_admin_credential"),
        (
            {"Authorization": f"Bearer {make_jwt(secret='another-secret-' + 'y' * 32)}"},
            "invalid_admin_credential",
        ),
    ],
    ids=[
        "missing",
        "wrong-token",
        "basic",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "no-exp",
        "bad-signature",
    ],
)
def test_admin_refuses_bad_credentials(client: TestClient, headers: dict[str, str], code: str) -> None:
    response = client.get("/admin/tenants", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")
    rows = sql(client.app.state.flow.settings.database_url, "SELECT action, status FROM audit_log")  # type: ignore[attr-defined]
    assert ("admin.refused", 401) in [tuple(r) for r in rows]


def test_expired_jwt_message_says_expired(client: TestClient) -> None:
    response = client.get("/admin/tenants", headers=bearer(make_jwt(exp=int(time.time()) - 10)))
    assert "expired" in response.json()["error"]["message"]


def test_admin_accepts_valid_jwt(client: TestClient) -> None:
    response = client.get("/admin/tenants", headers=bearer(make_jwt()))
    assert response.status_code == 200


def test_admin_not_configured(make_client: Callable[..., TestClient]) -> None:
    client = make_client(admin_token=None, admin_jwt_secret=None)
    response = client.get("/admin/tenants", headers=ADMIN)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "admin_not_configured"


def test_admin_changes_are_audited(client: TestClient) -> None:
    onboard(client)
    client.post("/admin/tenants/acme-wallet/keys", json={}, headers=ADMIN)
    audit = client.get("/admin/audit?tenant_id=acme-wallet", headers=ADMIN).json()["data"]
    actions = {row["action"] for row in audit}
    assert {"tenant.created", "key.created"} <= actions
    bad_limit = client.get("/admin/audit?limit=0", headers=ADMIN)
    assert bad_limit.status_code == 400
