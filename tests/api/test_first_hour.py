"""Issue 17 item 3 on the API side: `GET /` for a browser and for an API client, discovery saying what is served
(the same list as the CLI help and the README), and `/readyz` without per-request migration log lines."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from core.served import SERVED
from tests.api.helpers import bearer, onboard


def test_root_is_a_page_for_a_browser(client: TestClient) -> None:
    response = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for href in ('href="/console"', 'href="/healthz"', 'href="/readyz"', 'src="/home.js"'):
        assert href in page
    for served in SERVED:
        assert served.name in page
    assert client.get("/home.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/home.css").status_code == 200


def test_root_is_json_for_an_api_client(client: TestClient) -> None:
    for accept in ("application/json", "*/*", None):
        response = client.get("/", headers={"Accept": accept} if accept else {})
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["links"]["console"] == "/console" and body["links"]["health"] == "/healthz"
        assert [s["name"] for s in body["served"]] == [s.name for s in SERVED]


def test_root_needs_no_key_and_holds_no_data(client: TestClient) -> None:
    onboard(client, "root-tenant")
    assert "root-tenant" not in client.get("/", headers={"Accept": "text/html"}).text
    assert "root-tenant" not in client.get("/").text


def test_discovery_lists_what_is_served(client: TestClient) -> None:
    secret = onboard(client, "served-tenant")["api_key"]["secret"]
    body = client.get("/api/v1/served-tenant/", headers=bearer(secret)).json()
    served = {s["name"]: s["url"] for s in body["served"]}
    assert list(served) == [s.name for s in SERVED]
    assert served["GraphQL"].endswith("/api/v1/served-tenant/graphql") and served["Console"].endswith(
        "/console"
    )


def test_readyz_writes_no_migration_log_lines(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            assert client.get("/readyz").json()["status"] == "ready"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []


def test_readme_lists_what_is_served() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## What is served", 1)[1].split("\n## ", 1)[0]
    for served in SERVED:
        assert f"| {served.name} | `{served.path}` | {served.description} |" in section, served.name


@pytest.mark.parametrize("root_path", ["", "/flow"])
def test_the_start_page_assets_are_served_under_a_root_path(root_path: str) -> None:
    from starlette.applications import Starlette

    from api import home

    with TestClient(Starlette(routes=home.routes), root_path=root_path) as client:
        for name, media_type in home.ASSETS.items():
            response = client.get(f"{root_path}/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"].startswith(media_type)
