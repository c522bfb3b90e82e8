"""API key authentication on the tenant API, the audit trail it leaves, allowlists, rate limits, usage."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from tests.api.helpers import ADMIN, bearer, onboard, sql


def _db(client: TestClient) -> str:
    return str(client.app.state.flow.settings.database_url)  # type: ignore[attr-defined]


def test_valid_key_reaches_discovery(client: TestClient) -> None:
    secret = onboard(client)["api_key"]["secret"]
    response = client.get("/api/v1/acme-wallet/", headers=bearer(secret))
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "acme-wallet"
    assert body["rate_limit"] == {"requests_per_minute": 1000}
    assert body["concurrent_requests"] == 50
    assert body["available_endpoints"][0]["path"] == "/api/v1/acme-wallet/"


def test_missing_wrong_and_malformed_keys_are_401(client: TestClient) -> None:
    secret = onboard(client)["api_key"]["secret"]
    cases = {
        "missing": {},
        "wrong": bearer("ofk_" + "A" * 43),
        "same-prefix-other-suffix": bearer(secret[:12] + "B" * 43),
        "not-bearer": {"Authorization": f"Token {secret}"},
        "empty": {"Authorization": "Bearer "},
    }
    for name, headers in cases.items():
        response = client.get("/api/v1/acme-wallet/", headers=headers)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert response.json()["error"]["code"] in ("missing_api_key", "invalid_api_key"), name


def test_revoked_key_is_401(client: TestClient) -> None:
    key = onboard(client)["api_key"]
    assert client.delete(f"/admin/tenants/acme-wallet/keys/{key['id']}", headers=ADMIN).status_code == 204
    response = client.get("/api/v1/acme-wallet/", headers=bearer(key["secret"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_other_tenant_is_404_like_a_missing_tenant(client: TestClient) -> None:
    secret_a = onboard(client, "tenant-a")["api_key"]["secret"]
    onboard(client, "tenant-b")
    other = client.get("/api/v1/tenant-b/", headers=bearer(secret_a))
    missing = client.get("/api/v1/tenant-z/", headers=bearer(secret_a))
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["code"] == missing.json()["error"]["code"] == "tenant_not_found"
    assert set(other.headers) == set(missing.headers)


def test_every_attempt_is_audited_without_the_key(client: TestClient) -> None:
    secret = onboard(client)["api_key"]["secret"]
    client.get("/api/v1/acme-wallet/", headers=bearer(secret))
    client.get("/api/v1/acme-wallet/", headers=bearer("ofk_" + "Z" * 43))
    client.get("/api/v1/acme-wallet/")
    rows = sql(
        _db(client),
        "SELECT action, tenant_id, key_prefix, method, path, status, client_ip, created_at FROM audit_log "
        "WHERE action LIKE 'auth.%' ORDER BY id",
    )
    assert [(r[0], r[2], r[5]) for r in rows] == [
        ("auth.accepted", secret[:12], 200),
        ("auth.refused", "ofk_ZZZZZZZZ", 401),
        ("auth.refused", None, 401),
    ]
    for row in rows:
        assert row[1] == "acme-wallet" and row[3] == "GET" and row[4] == "/api/v1/acme-wallet/"
        assert row[6] == "127.0.0.1" and row[7] is not None
    everything = sql(_db(client), "SELECT * FROM audit_log")
    assert secret not in repr(everything)


def test_ip_allowlist(make_client: Callable[..., TestClient]) -> None:
    inside = make_client()
    secret = onboard(inside, allowed_ips=["127.0.0.0/8", "2001:db8::/32"])["api_key"]["secret"]
    assert inside.get("/api/v1/acme-wallet/", headers=bearer(secret)).status_code == 200
    outside = make_client(client_addr=("203.0.113.9", 5000))
    response = outside.get("/api/v1/acme-wallet/", headers=bearer(secret))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ip_not_allowed"
    v6 = make_client(client_addr=("2001:db8::1", 5000))
    assert v6.get("/api/v1/acme-wallet/", headers=bearer(secret)).status_code == 200


def test_rate_limit_per_minute(client: TestClient) -> None:
    secret = onboard(client, rate_limit_per_minute=2)["api_key"]["secret"]
    first = client.get("/api/v1/acme-wallet/", headers=bearer(secret))
    assert first.status_code == 200 and first.headers["x-ratelimit-limit"] == "2"
    assert client.get("/api/v1/acme-wallet/", headers=bearer(secret)).status_code == 200
    third = client.get("/api/v1/acme-wallet/", headers=bearer(secret))
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "rate_limited"
    assert int(third.headers["retry-after"]) >= 1


def test_usage_is_counted_and_last_used_set(client: TestClient) -> None:
    key = onboard(client)["api_key"]
    for _ in range(3):
        client.get("/api/v1/acme-wallet/", headers=bearer(key["secret"]))
    # Usage is buffered (written every audit_flush_seconds); flush it on the app's own event loop.
    client.portal.call(client.app.state.flow.usage.flush)  # type: ignore[attr-defined, union-attr]
    rows = sql(_db(client), "SELECT tenant_id, key_id, kind, count FROM usage_counters")
    assert [tuple(r) for r in rows] == [("acme-wallet", key["id"], "rest", 3)]
    last_used = sql(_db(client), "SELECT last_used_at FROM api_keys WHERE id = :id", id=key["id"])
    assert last_used[0][0] is not None
