"""Preview and backfill through the admin API over the 20 real mainnet ledgers (PostgreSQL): the preview's
count is the number of stored rows matching the filter, and a backfill (the in-process job) records exactly
those messages, with the preview's bytes."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import ADMIN, settings_for, sql
from tests.mainnet_data import FIRST, FULL, LAST, MainnetData
from tests.servers import wait_until

BASE = f"/admin/tenants/{FULL}/webhooks"
CLOSED_PORT_URL = "http://127.0.0.1:9/hooks"  # nothing listens: delivery attempts fail at once


@pytest.fixture
def client(mainnet_pg: MainnetData) -> Iterator[TestClient]:
    with TestClient(build_app(settings_for(mainnet_pg.url, webhook_allow_private=True))) as client:
        yield client


def test_preview_counts_the_matching_stored_rows_and_backfill_records_them(
    client: TestClient, mainnet_pg: MainnetData
) -> None:
    filter = {"assets": ["native"], "min_amount": "10000000"}
    created = client.post(
        BASE, json={"url": CLOSED_PORT_URL, "events": ["token_transfer"], "filter": filter}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["endpoint"]["id"]
    expected = sql(
        mainnet_pg.url,
        "SELECT id FROM token_transfers WHERE tenant_id = :t AND asset = 'native' AND amount_raw >= 10000000"
        " AND ledger_sequence BETWEEN :a AND :b ORDER BY id",
        t=FULL,
        a=FIRST,
        b=LAST,
    )
    assert len(expected) > 3

    response = client.post(
        f"{BASE}/{endpoint_id}/preview",
        json={"from_ledger": FIRST, "to_ledger": LAST, "sample": 3},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    preview = response.json()["preview"]
    assert preview["count"] == len(expected) and preview["by_event"] == {"token_transfer": len(expected)}
    assert [p["row_id"] for p in preview["payloads"]] == [row[0] for row in expected[:3]]
    for bad, parameter in (
        ({"from_ledger": 0}, "from_ledger"),
        ({"from_ledger": 5, "to_ledger": 4}, "to_ledger"),
    ):
        response = client.post(f"{BASE}/{endpoint_id}/preview", json=bad, headers=ADMIN)
        assert response.status_code == 400 and response.json()["error"]["parameter"] == parameter

    response = client.post(
        f"{BASE}/{endpoint_id}/backfill", json={"from_ledger": FIRST, "to_ledger": LAST}, headers=ADMIN
    )
    assert response.status_code == 202, response.text

    def recorded() -> list[tuple[str, str]]:
        rows = sql(
            mainnet_pg.url,
            "SELECT row_id, payload FROM webhook_messages WHERE endpoint_id = :e ORDER BY row_id",
            e=endpoint_id,
        )
        return rows if len(rows) == len(expected) else []

    rows = wait_until(recorded, 60, "the backfill job recorded the messages")
    assert [r[0] for r in rows] == [row[0] for row in expected]
    assert [orjson.loads(r[1]) for r in rows[:3]] == preview["payloads"]
    view = client.get(f"{BASE}/{endpoint_id}", headers=ADMIN).json()["endpoint"]
    assert view["backlog"]["pending"] + view["backlog"]["dead"] <= len(expected)
