"""The response cache (api/response_cache.py) on the real app, real mainnet ledgers and real stores: the
in-memory cache of the embedded mode on PostgreSQL and SQLite, Redis (a private redis-server, stopped for the
outage) on PostgreSQL.

Hits are proven by the `X-Cache` header AND by changing the stored rows behind the service's back: a hit still
answers what was stored before, byte for byte, while another query shows the change.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text
from starlette.testclient import TestClient

from core.settings import Network
from ingest.engine import IngestEngine, LedgerResult, TenantPlan, plan_tenants
from obsrvr_flow.wiring import build_app
from processors.registry import default_registry
from storage.api_keys import ApiKeyStore
from storage.db import create_engine
from storage.tenants import TenantStore
from tests import corpus
from tests.api.helpers import ADMIN, bearer, settings_for
from tests.mainnet_data import copy_of, filled_template, require_corpus, tenant_document
from tests.servers import PrivateRedis, wait_until

A, B, NO_CACHE = "cache-a", "cache-b", "cache-off"
TYPES = ["TokenTransferProcessor"]
TRANSFERS = "/token-transfers"
GRAPHQL_QUERY = "query Recent($n: Int) { tokenTransfers(first: $n) { edges { node { id amount } } } }"
# The same operation written differently: another layout, a comment, commas.
GRAPHQL_SAME = """query Recent($n: Int) {
  # the newest
  tokenTransfers(first: $n) { edges { node { id, amount } } }
}"""


@dataclass
class Data:
    url: str
    keys: dict[str, str]  # name -> secret
    plans: list[TenantPlan]
    results: list[LedgerResult]  # the 20 ledgers, in order

    def commit(self, first: int, last: int) -> None:
        """Commit ledgers [first, last) of the 20 for every tenant, as `obsrvr-flow ingest` would."""

        async def run() -> None:
            engine = create_engine(self.url)
            try:
                await IngestEngine(engine, Network.pubnet, plans=self.plans).write_batch(
                    self.results[first:last]
                )
            finally:
                await engine.dispose()

        asyncio.run(run())

    def tamper(self, tenant_id: str) -> None:
        """Change every stored transfer amount of the tenant behind the service's back."""

        async def run() -> None:
            engine = create_engine(self.url)
            try:
                async with engine.begin() as conn:
                    await conn.execute(
                        text("UPDATE token_transfers SET amount = 'tampered' WHERE tenant_id = :t"),
                        {"t": tenant_id},
                    )
            finally:
                await engine.dispose()

        asyncio.run(run())


def _document(tenant_id: str, ttl: int) -> dict[str, Any]:
    document = tenant_document(tenant_id, TYPES)
    document["customer"]["api"]["cache_ttl_seconds"] = ttl
    return document


async def _tenants(url: str, pepper: str) -> tuple[dict[str, str], list[TenantPlan]]:
    from core.tenant_config import parse_tenant_config

    catalogue = default_registry().catalogue()
    engine = create_engine(url)
    try:
        configs = []
        for tenant_id, ttl in ((A, 600), (B, 600), (NO_CACHE, 0)):
            config = parse_tenant_config(_document(tenant_id, ttl), catalogue)
            await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", config.to_document())
            configs.append(config)
        keys = ApiKeyStore(engine, pepper)
        secrets = {
            A: (await keys.create(A)).secret,
            "a_transfers": (await keys.create(A, ("read:token_transfers",))).secret,
            "a_events": (await keys.create(A, ("read:contract_events",))).secret,
            B: (await keys.create(B)).secret,
            NO_CACHE: (await keys.create(NO_CACHE)).secret,
        }
        return secrets, plan_tenants(configs, catalogue, Network.pubnet)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Template:
    """The module's tenants with ledgers 5-7 committed, filled once per backend (`filled_template`)."""

    backend: str
    source: str
    keys: dict[str, str]
    plans: list[TenantPlan]
    results: list[LedgerResult]


def _template(backend: str, migrated: str | Path, folder: Path) -> Iterator[Template]:
    ledgers = require_corpus()
    made: list[Template] = []

    def fill(url: str) -> None:
        keys, plans = asyncio.run(_tenants(url, settings_for(url).pepper))
        results = corpus.tenant_results(ledgers, corpus.MAINNET_20, plans)
        Data(url, keys, plans, results).commit(5, 8)
        made.append(Template(backend, "", keys, plans, results))

    with filled_template(backend, migrated, folder, "obsrvr_tmpl_cache", fill) as source:
        yield replace(made[0], source=source)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """Both backends, each filled once for the module."""
    migrated = request.getfixturevalue("pg_template" if request.param == "postgresql" else "sqlite_template")
    yield from _template(request.param, migrated, tmp_path_factory.mktemp("cache-template"))


@pytest.fixture
def data(template: Template, tmp_path: Path) -> Iterator[Data]:
    """Tenants A and B cache for 10 minutes, NO_CACHE not at all; ledgers 5-7 committed (a copy of the module's
    template: the test may change its rows)."""
    with copy_of(template.backend, template.source, tmp_path) as url:
        yield Data(url, template.keys, template.plans, template.results)


@pytest.fixture
def client(data: Data) -> Iterator[TestClient]:
    with TestClient(build_app(settings_for(data.url))) as test_client:
        yield test_client


def rest(client: TestClient | httpx.Client, tenant: str, key: str, **params: Any) -> httpx.Response:
    response = client.get(f"/api/v1/{tenant}{TRANSFERS}", params=params, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response


def graphql(
    client: TestClient, tenant: str, key: str, query: str = GRAPHQL_QUERY, n: int = 5
) -> httpx.Response:
    response = client.post(
        f"/api/v1/{tenant}/graphql", json={"query": query, "variables": {"n": n}}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    return response


def amounts(response: httpx.Response) -> set[str]:
    return {row["amount"] for row in response.json()["data"]}


def test_rest_hit_within_the_ttl_does_not_read_the_store(client: TestClient, data: Data) -> None:
    first = rest(client, A, data.keys[A], limit=5, order="desc")
    assert first.headers["x-cache"] == "miss"
    assert "tampered" not in amounts(first)
    data.tamper(A)
    # Same query, parameters in another order: served from the cache, the old answer byte for byte.
    again = client.get(f"/api/v1/{A}{TRANSFERS}?order=desc&limit=5", headers=bearer(data.keys[A]))
    assert again.headers["x-cache"] == "hit"
    assert again.content == first.content
    assert again.headers["latest-ledger"] == first.headers["latest-ledger"]
    # Rate limit headers are still computed for a hit (the cache sits after the limiter).
    assert "x-ratelimit-remaining" in again.headers
    # Another query reads the store, which did change.
    other = rest(client, A, data.keys[A], limit=6, order="desc")
    assert other.headers["x-cache"] == "miss"
    assert amounts(other) == {"tampered"}


def test_graphql_hit_within_the_ttl_for_the_same_normalized_operation(client: TestClient, data: Data) -> None:
    first = graphql(client, A, data.keys[A])
    assert first.headers["x-cache"] == "miss"
    assert "errors" not in first.json()
    data.tamper(A)
    rewritten = graphql(client, A, data.keys[A], GRAPHQL_SAME)
    assert rewritten.headers["x-cache"] == "hit"
    assert rewritten.content == first.content
    as_get = client.get(
        f"/api/v1/{A}/graphql",
        params={"query": GRAPHQL_QUERY, "variables": '{"n": 5}'},
        headers=bearer(data.keys[A]),
    )
    assert as_get.headers["x-cache"] == "hit"
    assert as_get.content == first.content
    # Other variables: another entry, read from the (changed) store.
    fresh = graphql(client, A, data.keys[A], n=4)
    assert fresh.headers["x-cache"] == "miss"
    assert {e["node"]["amount"] for e in fresh.json()["data"]["tokenTransfers"]["edges"]} == {"tampered"}


def test_answers_with_errors_are_not_cached(client: TestClient, data: Data) -> None:
    bad_cursor = '{ tokenTransfers(after: "not-a-cursor!") { edges { cursor } } }'
    for _ in range(2):
        response = graphql(client, A, data.keys[A], bad_cursor)
        assert response.json()["errors"]
        assert response.headers["x-cache"] == "miss"
    for _ in range(2):
        refused = client.get(f"/api/v1/{A}{TRANSFERS}?limit=0", headers=bearer(data.keys[A]))
        assert refused.status_code == 400
        assert "x-cache" not in refused.headers


def test_a_newer_ledger_or_a_backfill_makes_the_next_identical_query_a_miss(
    client: TestClient, data: Data
) -> None:
    def ask(order: str) -> httpx.Response:
        return rest(client, A, data.keys[A], limit=5, order=order)

    def first_ledger(response: httpx.Response) -> int:
        return int(response.json()["data"][0]["ledger_sequence"])

    newest_before = ask("desc")
    assert ask("desc").headers["x-cache"] == "hit"
    newest = data.results[11].sequence
    data.commit(10, 12)  # newer ledgers, as the live tail commits them
    # The first miss shows the new ledger (a hit answered in the instant the router's 1 s cache refreshes can
    # carry the new Latest-Ledger header over the old body: the header is never behind the data, not equal).
    after = wait_until(
        lambda: (r := ask("desc")).headers["x-cache"] == "miss" and r,
        10,
        "the new latest ledger to be read (at most latest_ledger_ttl = 1 s)",
    )
    assert after.headers["latest-ledger"] == str(newest)
    assert first_ledger(after) > first_ledger(newest_before)
    assert ask("desc").headers["x-cache"] == "hit"

    # A backfill of older ledgers leaves the latest ledger alone and still changes the answers.
    oldest_before = ask("asc")
    assert ask("asc").headers["x-cache"] == "hit"
    data.commit(0, 2)
    backfilled = wait_until(
        lambda: (r := ask("asc")).headers["x-cache"] == "miss" and r,
        10,
        "the backfilled ledgers to invalidate",
    )
    assert backfilled.headers["latest-ledger"] == str(newest)
    assert first_ledger(backfilled) < first_ledger(oldest_before)


def test_no_hit_across_tenants(client: TestClient, data: Data) -> None:
    data.tamper(B)  # B's stored answer differs from A's for the same path and query
    a = rest(client, A, data.keys[A], limit=5)
    b = rest(client, B, data.keys[B], limit=5)
    assert (a.headers["x-cache"], b.headers["x-cache"]) == ("miss", "miss")
    assert "tampered" not in amounts(a)
    assert amounts(b) == {"tampered"}
    a_again, b_again = rest(client, A, data.keys[A], limit=5), rest(client, B, data.keys[B], limit=5)
    assert (a_again.headers["x-cache"], b_again.headers["x-cache"]) == ("hit", "hit")
    assert (a_again.content, b_again.content) == (a.content, b.content)


def test_keys_with_other_scopes_do_not_share_entries(client: TestClient, data: Data) -> None:
    everything = rest(client, A, data.keys[A], limit=5)
    assert rest(client, A, data.keys[A], limit=5).headers["x-cache"] == "hit"
    data.tamper(A)
    narrower = rest(client, A, data.keys["a_transfers"], limit=5)
    assert narrower.headers["x-cache"] == "miss"
    assert amounts(narrower) == {"tampered"} != amounts(everything)
    # A key without the route's scope is refused before the cache is asked.
    refused = client.get(
        f"/api/v1/{A}{TRANSFERS}", params={"limit": 5}, headers=bearer(data.keys["a_events"])
    )
    assert refused.status_code == 403
    assert "x-cache" not in refused.headers


def test_a_ttl_of_zero_disables_the_cache(client: TestClient, data: Data) -> None:
    first = rest(client, NO_CACHE, data.keys[NO_CACHE], limit=5)
    assert "x-cache" not in first.headers
    data.tamper(NO_CACHE)
    second = rest(client, NO_CACHE, data.keys[NO_CACHE], limit=5)
    assert "x-cache" not in second.headers
    assert amounts(second) == {"tampered"}


@pytest.mark.parametrize("template", ["postgresql"], indirect=True)
def test_redis_cache_and_its_outage(data: Data) -> None:
    redis = PrivateRedis()
    redis.start()
    prefix = f"obsrvr-test:{uuid.uuid4().hex[:10]}:"
    try:
        settings = settings_for(data.url, redis_url=redis.url, redis_prefix=prefix)
        with TestClient(build_app(settings)) as client:
            first = rest(client, A, data.keys[A], limit=5)
            assert first.headers["x-cache"] == "miss"
            data.tamper(A)
            hit = rest(client, A, data.keys[A], limit=5)
            assert hit.headers["x-cache"] == "hit"
            assert hit.content == first.content
            redis_client = client.app.state.flow.backends.redis  # type: ignore[attr-defined]
            stored = client.portal.call(lambda: redis_client.keys(f"{prefix}cache:resp:{A}:*"))
            assert len(stored) == 1

            redis.stop()
            for _ in range(3):  # the first meets the outage (and opens the breaker), the others skip Redis
                served = rest(client, A, data.keys[A], limit=5)
                assert served.headers["x-cache"] == "miss"
                assert amounts(served) == {"tampered"}  # read from the store
            breaker = client.app.state.flow.backends.breaker  # type: ignore[attr-defined]
            assert breaker.outages == 1
            assert breaker.fallbacks["cache"] >= 3
    finally:
        redis.stop()


def test_an_answer_over_the_entry_size_is_not_stored(client: TestClient, data: Data) -> None:
    one, five = (
        len(rest(client, A, data.keys[A], limit=1).content),
        len(rest(client, A, data.keys[A], limit=5).content),
    )
    assert five > 2 * one
    with TestClient(build_app(settings_for(data.url, response_cache_max_entry_bytes=2 * one))) as bounded:
        for expected in ("miss", "hit"):
            assert rest(bounded, A, data.keys[A], limit=1).headers["x-cache"] == expected
        for _ in range(2):
            assert rest(bounded, A, data.keys[A], limit=5).headers["x-cache"] == "miss"


def test_a_reconfigured_tenant_does_not_meet_its_old_entries(client: TestClient, data: Data) -> None:
    first = rest(client, A, data.keys[A], limit=5)
    assert rest(client, A, data.keys[A], limit=5).headers["x-cache"] == "hit"
    data.tamper(A)
    document = _document(A, 600)
    document["customer"]["api"]["rate_limit_per_minute"] = 99_999
    updated = client.put(f"/admin/tenants/{A}", content=yaml.safe_dump(document), headers=ADMIN)
    assert updated.status_code == 200, updated.text
    after = rest(client, A, data.keys[A], limit=5)
    assert after.headers["x-cache"] == "miss"
    assert amounts(after) == {"tampered"} != amounts(first)
