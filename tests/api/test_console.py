"""The console's JSON (`api.console`): the processor catalogue with each processor's config JSON Schema, the
tenant check that answers the tenant parser's own path-named problems without storing anything, a tenant's
ingestion per processor (with its key and as admin, after ingesting the sample ledgers), and the page itself.
The page in Chromium is tested by tests/test_browser_pages.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from api import console
from core import tenant_config
from core.errors import ConfigError
from core.tenant_config import parse_tenant_documents
from processors.registry import default_registry
from tests.api.helpers import ADMIN, bearer, ingest_samples, onboard, tenant_yaml

TENANT = "/api/v1/acme-wallet"


def test_the_catalogue_lists_every_processor_with_its_config_schema(client: TestClient) -> None:
    assert client.get("/admin/processors").status_code == 401
    body = client.get("/admin/processors", headers=ADMIN).json()
    registry = default_registry()
    assert [p["type"] for p in body["processors"]] == [p.type_name for p in registry]
    by_type = {p["type"]: p for p in body["processors"]}
    assert by_type["DEXVolumeProcessor"]["requires"] == ["DEXTradeProcessor"]
    assert by_type["TokenBalanceProcessor"]["requires"] == ["TokenTransferProcessor"]
    transfers = by_type["TokenTransferProcessor"]
    assert transfers["config_schema"] == registry.by_name("token_transfers").config_model.model_json_schema()
    assert transfers["config_schema"]["properties"]["event_types"]["items"]["enum"][0] == "transfer"
    assert {"field": "onTokenTransfer", "type": "TokenTransfer"} in transfers["subscriptions"]
    assert "token_transfer" in [e["name"] for e in transfers["webhook_events"]]
    assert body["networks"] == ["pubnet", "testnet"]
    assert "hot_retention_days" in body["storage_schema"]["properties"]
    assert "rate_limit_per_minute" in body["api_schema"]["properties"]


def test_validate_answers_the_parsers_problems_and_stores_nothing(client: TestClient) -> None:
    document = yaml.safe_load(tenant_yaml("checked-only"))
    document["customer"]["storage"] = {"hot_retention_days": 0}
    entries = document["customer"]["processors"]
    for entry in entries:
        if entry["type"] == "DEXTradeProcessor":
            entry["enabled"] = False
    answer = client.post("/admin/tenants/validate", json=document, headers=ADMIN)
    assert answer.status_code == 200
    body = answer.json()
    with pytest.raises(ConfigError) as parsed:
        parse_tenant_documents(yaml.safe_dump(document), default_registry().catalogue())
    assert body == {"valid": False, "errors": parsed.value.errors}  # the CLI's messages, word for word
    assert any(line.startswith("customer.storage.hot_retention_days: ") for line in body["errors"])
    index = [e["type"] for e in entries].index("DEXVolumeProcessor")
    assert (
        f"customer.processors[{index}].type: DEXVolumeProcessor requires DEXTradeProcessor, which is disabled"
        in ("\n".join(body["errors"]))
    )
    good = client.post("/admin/tenants/validate", content=tenant_yaml("checked-only"), headers=ADMIN).json()
    assert (
        good["valid"] is True
        and good["errors"] == []
        and good["summary"][0].startswith("tenant checked-only")
    )
    assert client.get("/admin/tenants/checked-only", headers=ADMIN).status_code == 404
    # Client mistakes are documented 4xx, never a 500.
    assert client.post("/admin/tenants/validate", content=b"", headers=ADMIN).status_code == 400
    assert client.post("/admin/tenants/validate", content=b"\xff\xfe", headers=ADMIN).status_code == 400
    not_yaml = client.post("/admin/tenants/validate", content=b"customer: [", headers=ADMIN)
    assert not_yaml.status_code == 200 and not_yaml.json()["valid"] is False
    assert client.post("/admin/tenants/validate", content=b"{}").status_code == 401


def test_validate_refuses_the_webhook_url_that_creating_refuses(client: TestClient) -> None:
    """Found by an attacker's pass: the check answered valid for webhook URLs `POST /admin/tenants` refuses (the
    console relies on the check). Now both give the same line."""
    document = tenant_yaml("hooked", webhook_url="https://user@hooks.example.com/in")
    checked = client.post("/admin/tenants/validate", content=document, headers=ADMIN).json()
    created = client.post("/admin/tenants", content=document, headers=ADMIN)
    assert created.status_code == 400 and created.json()["error"]["code"] == "webhook_url_refused"
    assert checked == {"valid": False, "errors": [created.json()["error"]["message"]]}
    assert checked["errors"][0].startswith("customer.api.webhook_url: ")
    fine = tenant_yaml("hooked", webhook_url="https://hooks.example.com/in")
    assert client.post("/admin/tenants/validate", content=fine, headers=ADMIN).json()["valid"] is True


@pytest.mark.parametrize("route", ["/admin/tenants/validate", "/admin/tenants"])
def test_a_document_is_parsed_off_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """Found by an attacker's pass: PyYAML parsed a tenant document on the event loop, ~10 s for the largest body
    a server takes, holding every other request meanwhile. The parser here waits (inside the server) until the
    test has had another request answered: on the loop, that request would wait for the parser instead."""
    entered, answered = threading.Event(), threading.Event()
    real = tenant_config.parse_tenant_documents

    def waiting(text: str, catalogue: Any) -> Any:
        entered.set()
        answered.wait(30)  # only a failing run waits this long
        return real(text, catalogue)

    monkeypatch.setattr(tenant_config, "parse_tenant_documents", waiting)
    results: list[int] = []
    checking = threading.Thread(
        target=lambda: results.append(
            client.post(route, content=tenant_yaml("parsed-aside"), headers=ADMIN).status_code
        )
    )
    checking.start()
    try:
        assert entered.wait(30), "the document never reached the parser"
        assert client.get("/healthz").status_code == 200
        assert results == [], "the other request was answered only after the parser was done"
    finally:
        answered.set()
        checking.join(30)
    assert results == [200 if route.endswith("validate") else 201]


def test_ingestion_per_processor_with_the_key_and_as_admin(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client(pubnet_source=str(tmp_path / "samples"), decode_processes=1)
    key = onboard(client)["api_key"]["secret"]
    before = client.get(f"{TENANT}/ingestion", headers=bearer(key)).json()
    assert all(p["stored"] is None for p in before["processors"])
    first, last = ingest_samples(client, "acme-wallet", tmp_path / "samples", ["TokenTransferProcessor"])
    mine = client.get(f"{TENANT}/ingestion", headers=bearer(key))
    assert mine.status_code == 200
    body = mine.json()
    by_type = {p["type"]: p for p in body["processors"]}
    stored = by_type["TokenTransferProcessor"]["stored"]
    assert first <= stored["first_ledger"] <= stored["last_ledger"] <= last
    assert by_type["ContractEventProcessor"]["stored"] is None  # not in this ingestion
    assert body["lag"]["latest_ledger"] == last and body["latest_ledger"] == last
    assert body["lag"]["seconds_behind"] is not None and body["lag"]["seconds_behind"] >= 0
    as_admin = client.get("/admin/tenants/acme-wallet/ingestion", headers=ADMIN).json()
    assert as_admin["processors"] == body["processors"]
    assert client.get(f"{TENANT}/ingestion").status_code == 401
    assert client.get("/api/v1/someone-else/ingestion", headers=bearer(key)).status_code == 404
    discovery = client.get(f"{TENANT}/", headers=bearer(key)).json()
    assert f"{TENANT}/ingestion" in [e["path"] for e in discovery["available_endpoints"]]


def test_the_page_is_public_and_says_how_to_build_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(console, "BUNDLE", tmp_path)
    page = client.get("/console")
    assert page.status_code == 200 and "make web" in page.text and "<script" not in page.text
    assert client.get(f"{console.ASSETS_PATH}/console.js").status_code == 404
    assert client.get(f"{console.ASSETS_PATH}/../console.js").status_code == 404


def test_a_tenant_key_sees_a_failed_backfills_error_type_not_its_text() -> None:
    from api.console import _without_error_details

    summary = {"chunks": 3, "last_error": "OperationalError: (asyncpg) [SQL: INSERT INTO secret_table ...]"}
    progress = {"backfill": {"TokenTransferProcessor": summary}, "processors": [{"backfill": summary}]}
    shown = _without_error_details(progress)
    assert (
        shown["backfill"]["TokenTransferProcessor"]["last_error"] == "OperationalError (details: admin API)"
    )
    assert shown["processors"][0]["backfill"]["last_error"] == "OperationalError (details: admin API)"
    assert _without_error_details({"backfill": {"X": {"last_error": None}}}) == {
        "backfill": {"X": {"last_error": None}}
    }
