"""`GET /admin/live/{network}` and `PUT /admin/live/{network}/start`: admin only, checked, audited."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import ADMIN, sql

BAD = [
    ("/admin/live/mars/start", {"ledger": 10}, "network"),
    ("/admin/live/pubnet/start", {"ledger": 1}, "ledger"),
    ("/admin/live/pubnet/start", {"ledger": 2**32}, "ledger"),
    ("/admin/live/pubnet/start", {"ledger": "10"}, "ledger"),
    ("/admin/live/pubnet/start", {"ledger": True}, "ledger"),
]


def test_bad_values_are_400s_naming_them(client: Any) -> None:
    for path, body, parameter in BAD:
        response = client.put(path, json=body, headers=ADMIN)
        assert response.status_code == 400, (path, body)
        error = response.json()["error"]
        assert error["code"] == "invalid_parameter"
        assert error["message"].startswith(f"{parameter}: ")
    assert client.get("/admin/live/mars", headers=ADMIN).status_code == 400


def test_set_start_over_the_admin_api(client: Any, migrated_pg: str) -> None:
    assert client.put("/admin/live/pubnet/start", json={"ledger": 10}).status_code == 401
    for body in ({}, {"ledger": 10, "from": 3}, {"ledger": 10, "backfill": "no"}):
        response = client.put("/admin/live/pubnet/start", json=body, headers=ADMIN)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_body"

    response = client.put("/admin/live/pubnet/start", json={"ledger": 10}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "network": "pubnet",
        "start": 10,
        "live_ledger": None,
        "latest_ledger": None,
        "skipped": None,
    }
    status = client.get("/admin/live/pubnet", headers=ADMIN).json()
    assert status == {"network": "pubnet", "live_ledger": None, "latest_ledger": None, "pending_start": 10}
    audit = client.get("/admin/audit", params={"action": "live.start_set"}, headers=ADMIN).json()["data"]
    assert [row["detail"]["ledger"] for row in audit] == [10]
    assert sql(migrated_pg, "SELECT ledger FROM checkpoints WHERE name = 'live-start:pubnet'") == [(10,)]
