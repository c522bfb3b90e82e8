"""`GET /metrics`: the request series by route template, GraphQL operations, the ingestion counters of jobs run
in the API process (embedded mode) and the gauges read at scrape time; who may read it. Parsed with
prometheus_client's own parser."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import (
    ADMIN,
    ADMIN_TOKEN,
    LOOPBACK,
    bearer,
    ingest_samples,
    set_tip,
    settings_for,
    sql,
)
from tests.conftest import REDIS_URL

METRICS_TOKEN = "metrics-token-for-tests"
TYPES = ["TokenTransferProcessor", "ContractEventProcessor"]


def tenant_doc(tenant_id: str, network: str = "pubnet", start: int | None = None) -> str:
    processors = [{"type": t, **({"start_ledger": start} if start else {})} for t in TYPES]
    doc = {"customer": {"id": tenant_id, "name": tenant_id, "network": network, "processors": processors}}
    return str(yaml.safe_dump(doc))


def scrape(client: TestClient, token: str = METRICS_TOKEN) -> dict[tuple[str, frozenset[Any]], float]:
    """Every sample of /metrics: (name, labels) -> value."""
    response = client.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_after_traffic_and_an_ingest_in_the_same_process(migrated_pg: str, tmp_path: Path) -> None:
    settings = settings_for(
        migrated_pg,
        pubnet_source=str(tmp_path / "samples"),
        metrics_token=METRICS_TOKEN,
        backfill_chunk_ledgers=4,
        decode_processes=1,
    )
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        jobs = client.app.state.flow.backends.jobs  # type: ignore[attr-defined]
        created = client.post("/admin/tenants", content=tenant_doc("sample-a"), headers=ADMIN)
        key = created.json()["api_key"]["secret"]
        # Nothing of testnet is ingested: this backfill waits (deferred).
        client.post("/admin/tenants", content=tenant_doc("sample-t", "testnet", start=2), headers=ADMIN)

        first, last = ingest_samples(client, "sample-a", tmp_path / "samples", TYPES)
        ledgers = last - first + 1
        # Now pubnet has a tip: enabling with a start ledger plans real chunks, run by the same runner.
        updated = client.put(
            "/admin/tenants/sample-a", content=tenant_doc("sample-a", start=first), headers=ADMIN
        )
        assert updated.json()["backfill"]["TokenTransferProcessor"]["status"] == "queued", updated.text
        client.portal.call(jobs.drain)

        page = client.get("/api/v1/sample-a/token-transfers", params={"limit": 3}, headers=bearer(key))
        assert page.status_code == 200 and len(page.json()["data"]) == 3
        client.get("/api/v1/sample-a/token-transfers")  # 401, refused before routing
        client.get("/api/v1/sample-a/no-such-route", headers=bearer(key))  # 404 inside the tenant mount
        client.get("/no/such/path/12345")
        client.request("BREW", "/healthz")
        query = "{ tokenTransfers(first: 2) { edges { node { id } } } _meta { latestLedger } }"
        graphql = client.post("/api/v1/sample-a/graphql", json={"query": query}, headers=bearer(key))
        assert "errors" not in graphql.json()
        client.post("/api/v1/sample-a/graphql", json={"query": "{ nope }"}, headers=bearer(key))

        samples = scrape(client)
        text = client.get("/metrics", headers=bearer(METRICS_TOKEN)).text

    # Requests, by route template, method and status.
    route = "/api/v1/{customer_id}/token-transfers"
    assert value(samples, "obsrvr_http_requests_total", route=route, method="GET", status="200") == 1
    assert value(
        samples, "obsrvr_http_requests_total", route="/api/v1/{customer_id}/*", method="GET", status="401"
    )
    assert value(samples, "obsrvr_http_requests_total", route="unmatched", method="GET", status="404") == 2
    assert value(samples, "obsrvr_http_requests_total", route="/healthz", method="other", status="405") == 1
    graphql_route = "/api/v1/{customer_id}/graphql"
    assert (
        value(samples, "obsrvr_http_request_seconds_count", route=graphql_route, method="POST", status="200")
        == 2
    )
    assert "sample-a" not in text and "12345" not in text  # no tenant id or raw path in any label
    # GraphQL operations: kind, root fields from the schema, outcome.
    ok = {"operation": "query", "root_fields": "_meta,tokenTransfers", "status": "ok"}
    assert value(samples, "obsrvr_graphql_operations_total", **ok) == 1
    refused = {"operation": "invalid", "root_fields": "-", "status": "graphql_validation_failed"}
    assert value(samples, "obsrvr_graphql_operations_total", **refused) == 1

    # Service-wide ingestion totals (from the database): the direct run and the planned chunks each committed
    # every sample ledger.
    assert value(samples, "obsrvr_ingest_ledgers_total", network="pubnet") == 2 * ledgers
    stored = sql(migrated_pg, "SELECT count(*) FROM token_transfers")[0][0]
    assert value(samples, "obsrvr_ingest_rows_total", network="pubnet", table="token_transfers") == 2 * stored
    # And this process's own series (its jobs run here in the embedded mode).
    assert (value(samples, "obsrvr_worker_batch_seconds_count", network="pubnet") or 0) >= 3
    # Gauges read at scrape time from the database.
    assert value(samples, "obsrvr_ingest_last_ledger", network="pubnet") == last
    (closed_at,) = sql(migrated_pg, "SELECT closed_at FROM checkpoints WHERE name = 'latest:pubnet'")[0]
    lag = value(samples, "obsrvr_ingest_lag_seconds", network="pubnet")
    assert lag is not None and abs(lag - (time.time() - closed_at.timestamp())) < 60
    assert value(samples, "obsrvr_ingest_last_ledger", network="testnet") is None
    chunks = {state: value(samples, "obsrvr_backfill_chunks", state=state) for state in ("done", "deferred")}
    assert chunks == {"done": 2, "deferred": 1}  # 6 ledgers in chunks of 4; testnet waits
    assert value(samples, "obsrvr_backfill_chunks", state="failed") == 0
    assert not [name for name, _ in samples if name == "obsrvr_job_queue_depth"]  # no shared queue here


def test_queue_depth_is_read_from_redis(
    migrated_pg: str, redis_client: Any, redis_prefix: str, arq_cleanup: None, tmp_path: Path
) -> None:
    settings = settings_for(
        migrated_pg,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        queue_name=f"{redis_prefix}queue",
        metrics_token=METRICS_TOKEN,
        backfill_chunk_ledgers=2,
    )
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        assert value(scrape(client), "obsrvr_job_queue_depth") == 0
        set_tip(migrated_pg, 7)  # pubnet's tip: a backfill from 2 is 3 chunks of 2
        client.post("/admin/tenants", content=tenant_doc("queued-a", start=2), headers=ADMIN)
        samples = scrape(client)
    assert value(samples, "obsrvr_job_queue_depth") == 3  # no worker runs here: they wait in Redis
    assert value(samples, "obsrvr_backfill_chunks", state="queued") == 3


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthorized"),
        (bearer("not-the-token"), "invalid_metrics_credential"),
        ({"Authorization": f"Basic {METRICS_TOKEN}"}, "unauthorized"),
    ],
)
def test_metrics_need_a_credential(
    make_client: Callable[..., TestClient], headers: dict[str, str], code: str
) -> None:
    client = make_client(metrics_token=METRICS_TOKEN)
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 200
    assert client.get("/metrics", headers=bearer(ADMIN_TOKEN)).status_code == 200  # the admin credential too


def test_metrics_without_any_credential_configured_are_refused(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(admin_token=None, admin_jwt_secret=None)
    response = client.get("/metrics", headers=bearer("anything"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "metrics_not_configured"


def test_each_app_has_its_own_registry(make_client: Callable[..., TestClient]) -> None:
    first, second = make_client(), make_client()
    first.get("/healthz")
    count = (
        "obsrvr_http_requests_total",
        frozenset({"route": "/healthz", "method": "GET", "status": "200"}.items()),
    )
    assert scrape(first, ADMIN_TOKEN)[count] == 1
    assert count not in scrape(second, ADMIN_TOKEN)
