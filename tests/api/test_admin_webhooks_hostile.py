"""Hostile input on the webhook admin routes: whatever a client sends in a body, a path or a query ends in a
documented 4xx (or success), never a 500; nothing unstorable reaches the database."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.api.helpers import ADMIN, onboard
from tests.hostile import HOSTILE, json_values, nasty_text

BASE = "/admin/tenants/acme-wallet/webhooks"
PUBLIC_URL = "https://93.184.216.34/hooks"
FIELDS = ["url", "events", "filter", "description", "signing", "ordered", "max_concurrency", "since_ledger"]


def _send(client: TestClient, method: str, path: str, body: Any = None) -> Any:
    # json.dumps writes a lone surrogate as its escape: the server must refuse it as a 400, not fail on it.
    content = None if body is None else json.dumps(body)
    response = client.request(
        method, path, content=content, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code < 500, (method, path, body, response.text)
    if response.status_code >= 400:
        assert response.json()["error"]["code"] != "internal_error"
    return response


def test_hostile_bodies_paths_and_queries(client: TestClient) -> None:
    onboard(client)
    created = _send(client, "POST", BASE, {"url": PUBLIC_URL, "events": ["token_transfer"]})
    endpoint = f"{BASE}/{created.json()['endpoint']['id']}"

    @HOSTILE
    @given(
        field=st.sampled_from(FIELDS),
        value=json_values(),
        text=nasty_text(surrogates=False),
        which=st.integers(0, 9),
    )
    def run(field: str, value: Any, text: str, which: int) -> None:
        body: dict[str, Any] = {"url": PUBLIC_URL, "events": ["token_transfer"], field: value}
        if field == "url" and isinstance(value, str) and value.startswith(("http:", "https:")):
            body["url"] = PUBLIC_URL  # a hostile host name would be looked up in DNS
        added = _send(client, "POST", BASE, body)
        if added.status_code == 201:
            _send(client, "DELETE", f"{BASE}/{added.json()['endpoint']['id']}")
        q = quote(text, safe="")
        method, path, payload = [
            ("GET", f"{BASE}/{q}", None),
            ("POST", f"{endpoint}/messages/{q}/resend", None),
            ("GET", f"{endpoint}/deliveries?limit={q}", None),
            ("GET", f"{endpoint}/deliveries?message_id={q}", None),
            ("GET", f"{endpoint}/dead-letters?after={q}", None),
            ("POST", f"{endpoint}/replay", {"since_ledger": value}),
            ("POST", f"{endpoint}/replay", {"since_time": value, "only_dead": value}),
            ("POST", f"{endpoint}/rotate", {"signing": value}),
            ("POST", f"{endpoint}/preview", {"from_ledger": value, "to_ledger": value, "sample": value}),
            ("POST", f"{endpoint}/backfill", {"from_ledger": value, "to_ledger": 1}),
        ][which]
        _send(client, method, path, payload)

    run()


def test_a_body_nested_too_deeply_is_a_400(client: TestClient) -> None:
    """Found by an attacker's pass: a filter nested 300 levels deep passed JSON parsing and broke the endpoint's
    canonical JSON (orjson writes at most 254 levels): a 500. Refused before anything reads it."""
    onboard(client)
    deep: Any = "G"
    for _ in range(300):
        deep = [deep]
    body = {"url": PUBLIC_URL, "events": ["token_transfer"], "filter": {"account": deep}}
    response = _send(client, "POST", BASE, body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "too_deeply_nested",
        "message": "the body is nested more than 64 levels deep",
    }
    assert [e["source"] for e in client.get(BASE, headers=ADMIN).json()["data"]] == ["config"]  # none added
