"""Outages with real processes: `obsrvr-flow serve` and `obsrvr-flow worker` on a private PostgreSQL cluster and
a private redis-server (tests/servers.py), which the tests stop and start (the shared servers are never touched).

- Redis stopped while the API serves: reads answer 200 (rate limits per replica, cache and pub/sub skipped),
  `/readyz` says degraded, `/metrics` counts the fallbacks; once Redis is back the shared limit holds again.
- PostgreSQL stopped and started: 503 `database_unavailable` with `Retry-After`, quickly, then 200 again without a
  restart of the API; the worker lives through it.
- The queue down during onboarding: the tenant is created and its backfill recorded; once Redis is back the
  running worker queues and runs it by itself.

The servers, the API and the worker are shared by the module's tests (started once, ~10 s).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ledgers.samples import write_sample_datastore
from tests.api.helpers import ACME_YAML, ADMIN, migrate_db, set_tip, sql
from tests.cli_runner import run_cli
from tests.servers import PrivatePostgres, PrivateRedis, free_port, spawn_cli, stop_process, wait_until

METRICS_TOKEN = "metrics-token-for-outage-tests"


@dataclass
class Stack:
    pg: PrivatePostgres
    redis: PrivateRedis
    database_url: str
    api: httpx.Client
    env: dict[str, str]
    worker: subprocess.Popen[bytes]
    server: subprocess.Popen[bytes]
    logs: Path
    first_ledger: int
    last_ledger: int

    def output(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.logs.glob("*.log"))
        )


def _create_database(admin_url: str, name: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())


def _wait(condition: Callable[[], Any], timeout: float, what: str, stack: Stack | None = None) -> Any:
    return wait_until(condition, timeout, what, every=0.2, details=stack.output if stack else None)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = PrivateRedis()
    pg = PrivatePostgres()
    processes: list[subprocess.Popen[bytes]] = []
    api: httpx.Client | None = None
    try:
        redis.start()
        pg.start()
        _create_database(pg.admin_url, "flow")
        database_url = pg.database_url("flow")
        migrate_db(database_url)
        folder = tmp_path_factory.mktemp("outages")
        samples = write_sample_datastore(folder / "ledgers")
        set_tip(database_url, samples.last_ledger)
        logs = folder / "logs"
        logs.mkdir()
        port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
        env = {
            **clean,
            "OBSRVR_DATABASE_URL": database_url,
            "OBSRVR_REDIS_URL": redis.url,
            "OBSRVR_KEY_PEPPER": "outage-test-pepper",
            "OBSRVR_ADMIN_TOKEN": ADMIN["Authorization"].removeprefix("Bearer "),
            "OBSRVR_METRICS_TOKEN": METRICS_TOKEN,
            "OBSRVR_PUBNET_SOURCE": str(folder / "ledgers"),
            "OBSRVR_AUDIT_FLUSH_SECONDS": "0",
            "OBSRVR_AUTH_CACHE_SECONDS": "1",
            "OBSRVR_BACKFILL_CHUNK_LEDGERS": "3",
            "OBSRVR_BACKFILL_RESUME_SECONDS": "2",
            "OBSRVR_DECODE_PROCESSES": "1",
            "OBSRVR_LOG_LEVEL": "WARNING",
        }
        processes.append(spawn_cli(["serve", "--port", str(port)], env, logs / "serve.log"))
        processes.append(spawn_cli(["worker"], env, logs / "worker.log"))
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        stack = Stack(
            pg, redis, database_url, api, env, processes[1], processes[0], logs,
            samples.first_ledger, samples.last_ledger,
        )  # fmt: skip

        def ready() -> bool:
            try:
                return api.get("/readyz").json()["status"] == "ready"
            except httpx.HTTPError:
                return False

        _wait(ready, 30, "the API to be ready", stack)
        yield stack
    finally:
        if api is not None:
            api.close()
        for process in processes:
            process.terminate()  # both at once; then each is waited for (and killed if it lingers)
        for process in processes:
            stop_process(process)
        pg.close()
        redis.close()


def _onboard(stack: Stack, tenant_id: str, *, start_ledger: int | None = None, **api: Any) -> dict[str, Any]:
    doc = yaml.safe_load(ACME_YAML)
    doc["customer"]["id"] = tenant_id
    doc["customer"]["api"].update(api)
    if start_ledger is not None:
        doc["customer"]["processors"][0]["start_ledger"] = start_ledger
    response = stack.api.post(
        "/admin/tenants", content=yaml.safe_dump(doc), headers={**ADMIN, "Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _metric(stack: Stack, line_start: str) -> float:
    text = stack.api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
    assert values, f"no series {line_start} in /metrics"
    return values[0]


def test_redis_outage_serves_reads_and_limits_come_back(stack: Stack) -> None:
    limit = 30
    secret = _onboard(stack, "redis-outage", rate_limit_per_minute=limit)["api_key"]["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    path = "/api/v1/redis-outage/token-transfers?limit=1"
    first = stack.api.get(path, headers=headers)
    assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == str(limit - 1)

    stack.redis.stop()
    statuses, slowest = [], 0.0
    for _ in range(8):
        began = time.monotonic()
        statuses.append(stack.api.get(path, headers=headers).status_code)
        slowest = max(slowest, time.monotonic() - began)
    assert statuses == [200] * 8, statuses
    assert slowest < 2.5, f"a request waited {slowest:.1f} s for an unreachable Redis"
    ready = stack.api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded" and ready.json()["checks"]["redis"].startswith("unreachable")
    assert ready.json()["checks"]["database"] == "ok"
    assert _metric(stack, "obsrvr_redis_available") == 0
    assert _metric(stack, 'obsrvr_redis_fallbacks_total{component="rate_limiter"}') >= 8
    assert _metric(stack, "obsrvr_redis_outages_total") == 1

    stack.redis.start()  # empty: what the shared window counted before is gone
    _wait(lambda: stack.api.get("/readyz").json()["status"] == "ready", 15, "readiness after Redis", stack)
    assert _metric(stack, "obsrvr_redis_available") == 1
    # The shared limit again: a fresh Redis window allows exactly `limit` requests, then 429 (the in-process
    # window of the outage, which counted 8, would have refused after limit - 8).
    after = [stack.api.get(path, headers=headers) for _ in range(limit + 1)]
    assert [r.status_code for r in after] == [200] * limit + [429], [r.status_code for r in after]
    assert after[-1].json()["error"]["code"] == "rate_limited"
    assert stack.worker.poll() is None, f"the worker died with Redis\n{stack.output()}"


def test_postgres_restart_answers_503_then_recovers(stack: Stack) -> None:
    secret = _onboard(stack, "pg-outage")["api_key"]["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    path = "/api/v1/pg-outage/token-transfers?limit=1"
    # Another query than the outage's: an identical one would be answered from the response cache (a hit needs
    # the database only for the data version, read at most once a second).
    assert stack.api.get(path.replace("limit=1", "limit=2"), headers=headers).status_code == 200

    stack.pg.stop()
    try:
        answers = []
        for _ in range(6):
            began = time.monotonic()
            response = stack.api.get(path, headers=headers)
            answers.append((response, time.monotonic() - began))
        # Once the key lookup is no longer cached, the refusal comes from the authentication itself.
        time.sleep(1.1)
        began = time.monotonic()
        answers.append((stack.api.get(path, headers=headers), time.monotonic() - began))
        graphql = stack.api.post(
            "/api/v1/pg-outage/graphql",
            json={"query": "{ tokenTransfers(first: 1) { edges { node { id } } } }"},
            headers=headers,
        )
        admin = stack.api.get("/admin/tenants", headers=ADMIN)
        ready = stack.api.get("/readyz")
    finally:
        stack.pg.start()
    for response, seconds in answers:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        assert seconds < 2.5, f"a request took {seconds:.1f} s to fail"
    # Refused before GraphQL runs (the key lookup): a 503 in GraphQL's shape; met by a resolver: GraphQL's
    # convention, the field's error in a 200 (data null). The code is the same.
    assert graphql.status_code in (200, 503), graphql.text
    assert graphql.status_code == 200 or int(graphql.headers["Retry-After"]) > 0
    assert graphql.json()["errors"][0]["extensions"]["code"] == "database_unavailable"
    assert admin.status_code == 503 and admin.json()["error"]["code"] == "database_unavailable"
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready"

    _wait(
        lambda: stack.api.get(path, headers=headers).status_code == 200,
        20,
        "recovery after PostgreSQL",
        stack,
    )
    assert stack.api.get("/readyz").json()["status"] == "ready"
    assert stack.server.poll() is None
    assert stack.worker.poll() is None, f"the worker died with PostgreSQL\n{stack.output()}"


def test_queue_down_during_onboarding_backfills_once_back(stack: Stack, tmp_path: Path) -> None:
    tenant = "queue-outage"
    stack.redis.stop()
    try:
        created = _onboard(stack, tenant, start_ledger=stack.first_ledger)
        plan = created["backfill"]["TokenTransferProcessor"]
        assert plan["status"] == "queued" and "unreachable" in plan["waiting_for_queue"], plan
        statuses = sql(
            stack.database_url, "SELECT status FROM backfill_ranges WHERE tenant_id = :t", t=tenant
        )
        assert statuses and {s for (s,) in statuses} == {"queued"}
        # The CLI too: applying the tenant again while the queue is down succeeds and says what will happen.
        doc = yaml.safe_load(ACME_YAML)
        doc["customer"]["id"] = tenant
        doc["customer"]["processors"][0]["start_ledger"] = stack.first_ledger
        (tmp_path / "tenant.yaml").write_text(yaml.safe_dump(doc))
        applied = run_cli(["tenants", "apply", str(tmp_path / "tenant.yaml")], stack.env, timeout=60)
        assert applied.returncode == 0, applied.stderr
        assert "unreachable" in applied.stdout, applied.stdout
    finally:
        stack.redis.start()

    def backfilled() -> bool:
        rows = sql(stack.database_url, "SELECT status FROM backfill_ranges WHERE tenant_id = :t", t=tenant)
        return bool(rows) and all(status == "done" for (status,) in rows)

    _wait(backfilled, 30, "the worker to run the backfill planned while the queue was down", stack)
    served = stack.api.get(
        f"/api/v1/{tenant}/token-transfers?limit=200",
        headers={"Authorization": f"Bearer {created['api_key']['secret']}"},
    )
    assert served.status_code == 200
    ledgers = {row["ledger_sequence"] for row in served.json()["data"]}
    assert ledgers and ledgers <= set(range(stack.first_ledger, stack.last_ledger + 1)), ledgers
    assert stack.worker.poll() is None
