"""The admin API of webhook endpoints on PostgreSQL: add (secret once), list with backlog, errors as documented
4xx, rotation with both signatures, enable/disable, the config endpoint kept in step with the tenant YAML,
and the operations on messages (delivery log, dead letters, resend, replay)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook
from starlette.testclient import TestClient

from services.webhooks.endpoints import config_endpoint_id
from services.webhooks.signing import public_key_of, signature_header, verify_ed25519
from storage.db import create_engine
from storage.webhooks.endpoints import Endpoint, endpoint_by_id
from tests.api.helpers import ADMIN, ADMIN_TOKEN, execute, onboard, sql, tenant_yaml
from tests.api.test_metrics import scrape, value

TENANT = "acme-wallet"
BASE = f"/admin/tenants/{TENANT}/webhooks"
PUBLIC_URL = "https://93.184.216.34/hooks"  # a public IP literal: no DNS needed
ACCOUNT = "GAEDTJ4PPEFVW5XV2S7LUXBEHNQMX5Q2GM562RJGOQG7GVCE5H3HIB4V"


def add(client: TestClient, **body: Any) -> Any:
    return client.post(BASE, json={"url": PUBLIC_URL, "events": ["token_transfer"], **body}, headers=ADMIN)


def stored(client: TestClient, endpoint_id: str) -> Endpoint:
    async def read() -> Endpoint:
        engine = create_engine(client.app.state.flow.settings.database_url)  # type: ignore[attr-defined]
        try:
            async with engine.connect() as conn:
                found = await endpoint_by_id(conn, endpoint_id)
        finally:
            await engine.dispose()
        assert found is not None
        return found

    return asyncio.run(read())


def audit_actions(client: TestClient) -> list[str]:
    rows = client.get("/admin/audit", params={"tenant_id": TENANT}, headers=ADMIN).json()["data"]
    return [row["action"] for row in rows]


def test_add_shows_the_secret_once_then_list_get_delete(client: TestClient) -> None:
    onboard(client)
    response = add(client, filter={"accounts": [ACCOUNT], "min_amount": "1000"}, description="payments")
    assert response.status_code == 201, response.text
    body = response.json()
    secret = body["secret"]
    endpoint = body["endpoint"]
    assert secret.startswith("whsec_")
    assert endpoint["id"].startswith("ep_") and endpoint["url"] == PUBLIC_URL
    assert endpoint["events"] == ["token_transfer"] and endpoint["filter"]["accounts"] == [ACCOUNT]
    assert endpoint["status"] == "enabled" and endpoint["ordered"] is True and endpoint["source"] == "api"
    assert endpoint["backlog"] == {
        "pending": 0,
        "dead": 0,
        "oldest_pending_at": None,
        "oldest_undelivered_age_seconds": 0.0,
    }
    assert "secret" not in endpoint and "previous_secret" not in endpoint
    listed = client.get(BASE, headers=ADMIN)
    assert listed.status_code == 200
    ids = [e["id"] for e in listed.json()["data"]]
    # The demo tenant's YAML has a webhook_url: its config endpoint is listed too.
    assert sorted(ids) == sorted([endpoint["id"], config_endpoint_id(TENANT)])
    one = client.get(f"{BASE}/{endpoint['id']}", headers=ADMIN)
    assert one.status_code == 200 and one.json()["endpoint"]["description"] == "payments"
    for text in (listed.text, one.text):
        assert secret not in text and "whsec_" not in text
    assert stored(client, endpoint["id"]).secret == secret
    assert client.delete(f"{BASE}/{endpoint['id']}", headers=ADMIN).status_code == 204
    gone = client.get(f"{BASE}/{endpoint['id']}", headers=ADMIN)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "webhook_endpoint_not_found"
    assert {"webhook.created", "webhook.deleted"} <= set(audit_actions(client))


def test_routes_need_the_admin_credential(client: TestClient) -> None:
    onboard(client)
    for method, path in (("GET", BASE), ("POST", BASE), ("GET", f"{BASE}/ep_x/deliveries")):
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
        response = client.request(method, path, json={}, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401, (method, path)


@pytest.mark.parametrize(
    ("body", "status", "code", "parameter"),
    [
        ({"events": ["token_transfer"]}, 400, "invalid_parameter", "url"),
        ({"url": PUBLIC_URL}, 400, "invalid_parameter", "events"),
        ({"url": 5, "events": ["token_transfer"]}, 400, "invalid_parameter", "url"),
        ({"url": PUBLIC_URL, "events": []}, 400, "invalid_parameter", "events"),
        ({"url": PUBLIC_URL, "events": ["token_transfer", "nope"]}, 400, "invalid_parameter", "events[1]"),
        (
            {"url": PUBLIC_URL, "events": ["token_transfer"], "filter": {"colour": ["x"]}},
            400,
            None,
            "filter.colour",
        ),
        ({"url": PUBLIC_URL, "events": ["token_transfer"], "filter": {"accounts": ["bad"]}}, 400, None, None),
        ({"url": PUBLIC_URL, "events": ["token_transfer"], "filter": []}, 400, "invalid_parameter", "filter"),
        (
            {"url": PUBLIC_URL, "events": ["token_transfer"], "signing": "rsa"},
            400,
            "invalid_parameter",
            "signing",
        ),
        (
            {"url": PUBLIC_URL, "events": ["token_transfer"], "ordered": "yes"},
            400,
            "invalid_parameter",
            "ordered",
        ),
        (
            {"url": PUBLIC_URL, "events": ["token_transfer"], "ordered": True, "max_concurrency": 4},
            400,
            "invalid_parameter",
            "max_concurrency",
        ),
        ({"url": PUBLIC_URL, "events": ["token_transfer"], "since_ledger": 0}, 400, None, "since_ledger"),
        ({"url": "https://127.0.0.1/x", "events": ["token_transfer"]}, 400, "webhook_url_refused", "url"),
        (
            {"url": "https://169.254.169.254/", "events": ["token_transfer"]},
            400,
            "webhook_url_refused",
            "url",
        ),
        ({"url": "http://93.184.216.34/", "events": ["token_transfer"]}, 400, "webhook_url_refused", "url"),
        ({"url": PUBLIC_URL, "events": ["token_transfer"], "colour": 1}, 400, "invalid_body", None),
    ],
)
def test_refused_endpoints_name_the_field(
    client: TestClient, body: dict[str, Any], status: int, code: str | None, parameter: str | None
) -> None:
    onboard(client)
    response = client.post(BASE, json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code
    if parameter is not None:
        assert error["parameter"] == parameter or error["message"].startswith(parameter)
    assert [e["source"] for e in client.get(BASE, headers=ADMIN).json()["data"]] == ["config"]


def test_unknown_tenant_endpoint_and_message_are_404(client: TestClient) -> None:
    response = client.get("/admin/tenants/nobody/webhooks", headers=ADMIN)
    assert response.status_code == 404 and response.json()["error"]["code"] == "tenant_not_found"
    onboard(client)
    for method, path in (
        ("GET", f"{BASE}/ep_missing"),
        ("DELETE", f"{BASE}/ep_missing"),
        ("POST", f"{BASE}/ep_missing/rotate"),
        ("POST", f"{BASE}/ep_missing/enable"),
        ("GET", f"{BASE}/ep_missing/deliveries"),
        ("POST", f"{BASE}/ep_missing/replay"),
    ):
        response = client.request(method, path, headers=ADMIN)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "webhook_endpoint_not_found"
    endpoint_id = add(client).json()["endpoint"]["id"]
    response = client.post(f"{BASE}/{endpoint_id}/messages/msg_nope/resend", headers=ADMIN)
    assert response.status_code == 404 and response.json()["error"]["code"] == "webhook_message_not_found"
    response = client.post("/admin/tenants/nobody/webhooks", json={}, headers=ADMIN)
    assert response.status_code == 404


def test_too_many_endpoints_is_409(make_client: Callable[..., TestClient]) -> None:
    client = make_client(webhook_max_endpoints=2)
    onboard(client)  # the config endpoint is the first
    assert add(client).status_code == 201
    response = add(client)
    assert response.status_code == 409 and response.json()["error"]["code"] == "too_many_webhook_endpoints"


def test_ed25519_endpoint_publishes_its_key(client: TestClient) -> None:
    body = onboard(client)
    created = add(client, signing="ed25519").json()
    secret, endpoint = created["secret"], created["endpoint"]
    assert secret.startswith("whsk_") and endpoint["public_key"] == public_key_of(secret)
    # The tenant's discovery lists the public key with the endpoint, never the secret.
    discovery = client.get(
        f"/api/v1/{TENANT}/", headers={"Authorization": f"Bearer {body['api_key']['secret']}"}
    ).json()
    keys = {k["endpoint_id"]: k["public_key"] for k in discovery["webhook_signing_keys"]}
    assert keys[endpoint["id"]] == endpoint["public_key"]
    assert secret not in orjson.dumps(discovery).decode()
    ts = int(time.time())
    header = signature_header(stored(client, endpoint["id"]), "msg_1", ts, b"{}", datetime.now(UTC))
    assert verify_ed25519(endpoint["public_key"], "msg_1", ts, b"{}", header)


def test_rotation_signs_with_both_secrets_during_the_grace_period(client: TestClient) -> None:
    onboard(client)
    created = add(client).json()
    old, endpoint_id = created["secret"], created["endpoint"]["id"]
    response = client.post(f"{BASE}/{endpoint_id}/rotate", headers=ADMIN)
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    expires = datetime.fromisoformat(response.json()["endpoint"]["previous_expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    endpoint = stored(client, endpoint_id)
    assert endpoint.secret == new and endpoint.previous_secret == old
    ts, body = int(time.time()), '{"event_id":"msg_1"}'
    header = signature_header(endpoint, "msg_1", ts, body, datetime.now(UTC))
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": header}
    assert len(header.split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
    # Rotating to ed25519 switches the scheme; the hmac secret still signs during the grace period.
    switched = client.post(f"{BASE}/{endpoint_id}/rotate", json={"signing": "ed25519"}, headers=ADMIN).json()
    assert switched["secret"].startswith("whsk_") and switched["endpoint"]["public_key"].startswith("whpk_")
    bad = client.post(f"{BASE}/{endpoint_id}/rotate", json={"signing": "md5"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "signing"
    assert audit_actions(client).count("webhook.rotated") == 2


def test_disable_and_enable(client: TestClient) -> None:
    onboard(client)
    endpoint_id = add(client).json()["endpoint"]["id"]
    disabled = client.post(f"{BASE}/{endpoint_id}/disable", headers=ADMIN).json()["endpoint"]
    assert disabled["status"] == "disabled" and disabled["disabled_reason"] == "disabled by the tenant"
    enabled = client.post(f"{BASE}/{endpoint_id}/enable", headers=ADMIN).json()["endpoint"]
    assert enabled["status"] == "enabled" and enabled["disabled_reason"] is None
    assert {"webhook.disabled", "webhook.enabled"} <= set(audit_actions(client))


def test_delete_all_keeps_the_config_endpoint(client: TestClient) -> None:
    onboard(client)
    ids = {add(client).json()["endpoint"]["id"] for _ in range(2)}
    response = client.delete(BASE, headers=ADMIN)
    assert response.status_code == 200 and set(response.json()["removed"]) == ids
    assert [e["id"] for e in client.get(BASE, headers=ADMIN).json()["data"]] == [config_endpoint_id(TENANT)]


def test_config_endpoint_follows_the_tenant_yaml(client: TestClient) -> None:
    created = onboard(client)
    webhook = created["webhook"]
    assert webhook["action"] == "created" and webhook["endpoint_id"] == config_endpoint_id(TENANT)
    assert webhook["secret"].startswith("whsec_") and webhook["url"] == "https://customer.example/webhook"

    def put(**api: Any) -> Any:
        response = client.put(f"/admin/tenants/{TENANT}", content=tenant_yaml(TENANT, **api), headers=ADMIN)
        assert response.status_code == 200, response.text
        return response.json()

    assert put()["webhook"] == {
        "endpoint_id": webhook["endpoint_id"],
        "action": "unchanged",
        "url": "https://customer.example/webhook",
    }
    changed = put(webhook_url="https://hooks.customer.example/v2", webhook_events=["token_transfer"])
    assert changed["webhook"]["action"] == "updated" and "secret" not in changed["webhook"]
    endpoint = stored(client, webhook["endpoint_id"])
    assert endpoint.url == "https://hooks.customer.example/v2" and endpoint.events == ("token_transfer",)
    assert endpoint.secret == webhook["secret"]  # an update keeps the secret
    assert put(webhook_url=None)["webhook"]["action"] == "removed"
    assert client.get(BASE, headers=ADMIN).json()["data"] == []
    # A YAML naming a private address is refused before anything is stored.
    response = client.put(
        f"/admin/tenants/{TENANT}",
        content=tenant_yaml(TENANT, webhook_url="https://10.0.0.1/h"),
        headers=ADMIN,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_url_refused"
    assert response.json()["error"]["parameter"] == "customer.api.webhook_url"
    assert client.get(f"/admin/tenants/{TENANT}", headers=ADMIN).json()["tenant"]["config_version"] == 4


def test_backfill_is_queued_and_checked(client: TestClient) -> None:
    onboard(client)
    created = add(client, since_ledger=63092982).json()
    assert created["endpoint"]["status"] == "backfilling"
    assert created["backfill"]["job_id"] == f"backfill_webhook:{created['endpoint']['id']}:63092982:latest"
    endpoint_id = created["endpoint"]["id"]
    for body, parameter in (
        ({}, "from_ledger"),
        ({"from_ledger": "x"}, "from_ledger"),
        ({"from_ledger": 10, "to_ledger": 5}, "to_ledger"),
    ):
        response = client.post(f"{BASE}/{endpoint_id}/backfill", json=body, headers=ADMIN)
        assert response.status_code == 400 and response.json()["error"]["parameter"] == parameter
    response = client.post(
        f"{BASE}/{endpoint_id}/backfill", json={"from_ledger": 63092982, "to_ledger": 63093001}, headers=ADMIN
    )
    assert response.status_code == 202
    assert response.json()["backfill"]["job_id"] == f"backfill_webhook:{endpoint_id}:63092982:63093001"
    assert "webhook.backfill_queued" in audit_actions(client)


def _record_messages(url: str, endpoint_id: str, now: datetime) -> list[str]:
    """Four messages of ledgers 100-103 as the outbox records them: delivered, dead, pending, pending."""
    from services.webhooks.messages import Message
    from storage.webhooks.outbox import insert_messages
    from storage.webhooks.tables import webhook_attempts

    ids = [f"msg_{endpoint_id}_token_transfer_{n:04d}" for n in range(4)]

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await insert_messages(
                    conn,
                    [
                        Message(
                            id=mid,
                            endpoint_id=endpoint_id,
                            tenant_id=TENANT,
                            event_type="token_transfer",
                            row_id=f"{n:04d}",
                            ledger=100 + n,
                            closed_at=now - timedelta(hours=4 - n),
                            payload=orjson.dumps({"event_id": mid}),
                        )
                        for n, mid in enumerate(ids)
                    ],
                    now=now - timedelta(hours=2),
                )
                # What delivery leaves behind: a success, then a message whose attempts ran out.
                for n, (mid, code, outcome) in enumerate(
                    ((ids[0], 200, "success"), (ids[1], 500, "failure"), (ids[1], 500, "failure"))
                ):
                    await conn.execute(
                        webhook_attempts.insert().values(
                            message_id=mid, endpoint_id=endpoint_id, attempt=n + 1, started_at=now,
                            duration_ms=12, status_code=code, outcome=outcome, error=None if code == 200 else "500",
                            response_snippet="ok" if code == 200 else "boom",
                        )
                    )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(run())
    execute(
        url,
        "UPDATE webhook_messages SET status = 'delivered', next_attempt_at = NULL WHERE id = :i",
        i=ids[0],
    )
    execute(
        url,
        "UPDATE webhook_messages SET status = 'dead', attempts = 8, next_attempt_at = NULL WHERE id = :i",
        i=ids[1],
    )
    return ids


def test_backlog_log_dead_letters_resend_and_replay(client: TestClient) -> None:
    url = client.app.state.flow.settings.database_url  # type: ignore[attr-defined]
    onboard(client)
    endpoint_id = add(client).json()["endpoint"]["id"]
    # Disabled: the app's delivery runner leaves its messages alone (states here are set by the test).
    assert client.post(f"{BASE}/{endpoint_id}/disable", headers=ADMIN).status_code == 200
    now = datetime.now(UTC)
    ids = _record_messages(url, endpoint_id, now)

    backlog = client.get(f"{BASE}/{endpoint_id}", headers=ADMIN).json()["endpoint"]["backlog"]
    assert backlog["pending"] == 2 and backlog["dead"] == 1
    assert 2 * 3600 - 60 < backlog["oldest_undelivered_age_seconds"] < 2 * 3600 + 60
    # The same numbers on /metrics, per tenant and endpoint; an endpoint without messages shows zeros.
    samples = scrape(client, ADMIN_TOKEN)
    labels = {"tenant": TENANT, "endpoint": endpoint_id}
    assert value(samples, "obsrvr_webhook_backlog", **labels) == 2
    assert value(samples, "obsrvr_webhook_dead_messages", **labels) == 1
    age = value(samples, "obsrvr_webhook_oldest_undelivered_seconds", **labels)
    assert age is not None and 2 * 3600 - 60 < age < 2 * 3600 + 60
    config_labels = {"tenant": TENANT, "endpoint": config_endpoint_id(TENANT)}
    assert value(samples, "obsrvr_webhook_backlog", **config_labels) == 0
    assert value(samples, "obsrvr_webhook_oldest_undelivered_seconds", **config_labels) == 0

    log = client.get(f"{BASE}/{endpoint_id}/deliveries", headers=ADMIN).json()["data"]
    assert [(a["message_id"], a["status_code"], a["outcome"]) for a in log] == [
        (ids[1], 500, "failure"),
        (ids[1], 500, "failure"),
        (ids[0], 200, "success"),
    ]
    one = client.get(
        f"{BASE}/{endpoint_id}/deliveries", params={"message_id": ids[0], "limit": 5}, headers=ADMIN
    )
    assert [a["response_snippet"] for a in one.json()["data"]] == ["ok"]
    bad = client.get(f"{BASE}/{endpoint_id}/deliveries", params={"limit": "0"}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "limit"

    dead = client.get(f"{BASE}/{endpoint_id}/dead-letters", headers=ADMIN).json()
    assert [m["id"] for m in dead["data"]] == [ids[1]] and dead["data"][0]["attempts"] == 8

    resent = client.post(f"{BASE}/{endpoint_id}/messages/{ids[1]}/resend", headers=ADMIN)
    assert resent.status_code == 202
    assert resent.json()["message"]["status"] == "pending" and resent.json()["message"]["attempts"] == 0
    assert client.get(f"{BASE}/{endpoint_id}/dead-letters", headers=ADMIN).json()["data"] == []
    # The attempts log keeps the earlier attempts; the payload (the bytes sent) is unchanged.
    assert len(client.get(f"{BASE}/{endpoint_id}/deliveries", headers=ADMIN).json()["data"]) == 3
    assert sql(url, "SELECT payload FROM webhook_messages WHERE id = :i", i=ids[1]) == [
        (orjson.dumps({"event_id": ids[1]}).decode(),)
    ]

    # Replay since ledger 100: the delivered one goes back to pending; pending ones stay as they are.
    response = client.post(f"{BASE}/{endpoint_id}/replay", json={"since_ledger": 100}, headers=ADMIN)
    assert response.status_code == 202 and response.json() == {"replayed": 1}
    statuses = sql(
        url,
        "SELECT id, status, attempts FROM webhook_messages WHERE endpoint_id = :e ORDER BY id",
        e=endpoint_id,
    )
    assert statuses == [
        (ids[0], "pending", 0),
        (ids[1], "pending", 0),
        (ids[2], "pending", 0),
        (ids[3], "pending", 0),
    ]

    # Only the dead, since a time: messages of ledgers closed before it are left.
    execute(url, "UPDATE webhook_messages SET status = 'dead' WHERE endpoint_id = :e", e=endpoint_id)
    since = (now - timedelta(hours=2, minutes=30)).isoformat()
    response = client.post(
        f"{BASE}/{endpoint_id}/replay", json={"since_time": since, "only_dead": True}, headers=ADMIN
    )
    assert response.json() == {"replayed": 2}  # ledgers 102 and 103 closed 2 h and 1 h ago
    for body, parameter in (
        ({}, "since_ledger"),
        ({"since_ledger": 1, "since_time": since}, "since_ledger"),
        ({"since_time": "yesterday"}, "since_time"),
        ({"since_ledger": -1}, "since_ledger"),
        ({"since_ledger": 1, "only_dead": "yes"}, "only_dead"),
    ):
        response = client.post(f"{BASE}/{endpoint_id}/replay", json=body, headers=ADMIN)
        assert response.status_code == 400 and response.json()["error"]["parameter"] == parameter, body
    assert {"webhook.resent", "webhook.replayed"} <= set(audit_actions(client))


def test_deleting_the_tenant_removes_its_endpoints_and_outbox(client: TestClient) -> None:
    url = client.app.state.flow.settings.database_url  # type: ignore[attr-defined]
    onboard(client)
    endpoint_id = add(client).json()["endpoint"]["id"]
    assert client.post(f"{BASE}/{endpoint_id}/disable", headers=ADMIN).status_code == 200
    _record_messages(url, endpoint_id, datetime.now(UTC))
    assert client.delete(f"/admin/tenants/{TENANT}", headers=ADMIN).status_code == 202
    for table in ("webhook_endpoints", "webhook_messages"):
        assert sql(url, f"SELECT count(*) FROM {table} WHERE tenant_id = :t", t=TENANT) == [(0,)]
    assert sql(url, "SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :e", e=endpoint_id) == [(0,)]
