"""Discovery lists exactly the enabled routes (method, description, parameters); the OpenAPI 3.1 document
describes exactly them and validates; the docs page and its assets are served by the service itself."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from starlette.testclient import TestClient

from tests.api.helpers import bearer
from tests.mainnet_data import FULL, PARTIAL, MainnetData

FULL_ROUTES = {
    "/token-transfers",
    "/accounts/{account}/token-balances",
    "/contract-events",
    "/contracts/{contract_id}/events",
    "/accounts/{account}/balance-history",
    "/accounts/{account}/current-balance",
    "/dex/trades",
    "/dex/pairs/{pair}/stats",
    "/dex/volume",
    "/dex/volume/closed",
    "/contracts/{contract_id}/data",
    "/contracts/{contract_id}/storage",
}
PARTIAL_ROUTES = {
    "/token-transfers",
    "/accounts/{account}/token-balances",
    "/contract-events",
    "/contracts/{contract_id}/events",
}


def test_discovery_lists_exactly_the_enabled_routes(client: TestClient, mainnet_data: MainnetData) -> None:
    for tenant, key, expected in ((FULL, "full", FULL_ROUTES), (PARTIAL, "partial", PARTIAL_ROUTES)):
        response = client.get(f"/api/v1/{tenant}/", headers=bearer(mainnet_data.keys[key]))
        assert response.status_code == 200
        body = response.json()
        assert body["customer_id"] == tenant
        assert body["rate_limit"] == {"requests_per_minute": 100_000} and body["concurrent_requests"] == 100
        assert body["documentation_url"].endswith(f"/api/v1/{tenant}/docs")
        rest = [e for e in body["available_endpoints"] if e["processor"]]
        prefix = f"/api/v1/{tenant}"
        assert {e["path"].removeprefix(prefix) for e in rest} == expected
        assert len(rest) == len(expected)
        for endpoint in rest:
            assert endpoint["method"] == "GET" and endpoint["description"]
            names = {p["name"] for p in endpoint["parameters"]}
            assert set(re.findall(r"{(\w+)}", endpoint["path"])) <= names
        transfers = next(e for e in rest if e["path"].endswith("/token-transfers"))
        assert {"account", "asset_code", "asset_issuer", "from", "to", "limit", "cursor", "order"} <= {
            p["name"] for p in transfers["parameters"]
        }


def test_openapi_document_validates_and_covers_exactly_the_enabled_routes(
    client: TestClient, mainnet_data: MainnetData
) -> None:
    for tenant, key, expected in ((FULL, "full", FULL_ROUTES), (PARTIAL, "partial", PARTIAL_ROUTES)):
        response = client.get(f"/api/v1/{tenant}/openapi.json", headers=bearer(mainnet_data.keys[key]))
        assert response.status_code == 200
        document = response.json()
        validate(document)  # OpenAPI 3.1, by openapi-spec-validator
        assert document["openapi"] == "3.1.0"
        assert set(document["paths"]) == expected | {"/", "/usage", "/ingestion"}
        assert document["servers"] == [{"url": f"http://testserver/api/v1/{tenant}"}]
        assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
        transfers = document["paths"]["/token-transfers"]["get"]
        row = document["components"]["schemas"]["TokenTransfersRelativeRow"]
        assert row["properties"]["amount_raw"]["type"] == "string"
        assert row["properties"]["direction"]["enum"] == ["sent", "received"]
        assert {"200", "400", "401", "403", "404", "429"} <= set(transfers["responses"])
    assert client.get(f"/api/v1/{FULL}/openapi.json").status_code == 401


def test_docs_page_is_served_offline_by_the_service(client: TestClient) -> None:
    page = client.get(f"/api/v1/{FULL}/docs")  # no key: the page asks for it
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "docs/docs.js" in assets and "docs/docs.css" in assets
    assert all("//" not in asset for asset in assets)  # nothing from another origin (no CDN)
    for asset in (a for a in assets if a.startswith("docs/")):
        response = client.get(f"/api/v1/{FULL}/{asset}")
        assert response.status_code == 200, asset
        assert "http://" not in response.text and "https://" not in response.text
    assert "openapi.json" in client.get(f"/api/v1/{FULL}/docs/docs.js").text
    # the same static page for any tenant id: it tells nothing about which tenants exist
    assert client.get("/api/v1/no-such-tenant/docs").text == page.text
    assert client.get(f"/api/v1/{FULL}/docs/secrets.txt").status_code == 401
