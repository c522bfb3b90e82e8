"""Prometheus metrics of one app (served at `GET /metrics` by `api.metrics`).

Each app builds its own `CollectorRegistry` (in its lifespan): no module-level registry, so any number of apps
live in one process (the tests build many) without their series colliding. Series (docs/decisions.md
"Observability"):

- `obsrvr_http_requests_total{route,method,status}` and `obsrvr_http_request_seconds{route,method,status}`: by
  the route template (`/api/v1/{customer_id}/<route>`), never the raw path, so tenant ids and values in
  paths cannot multiply the series; a path no route knows is `unmatched`.
- `obsrvr_graphql_operations_total{operation,root_fields,status}`: `query` / `<field>,<field>`, status `ok` or
  the first error's code.
- Read from the database and Redis when scraped, so every replica shows what every worker did:
  `obsrvr_ingest_ledgers_total{network}` and `obsrvr_ingest_rows_total{network,table}` (service-wide totals the
  engine adds to in each batch's transaction, `storage.ingest_totals`: their rate is ledgers and rows per second),
  `obsrvr_ingest_last_ledger` and `obsrvr_ingest_lag_seconds` per network, `obsrvr_backfill_chunks{state}`,
  `obsrvr_job_queue_depth` (arq only); per webhook endpoint (labels ``tenant``, ``endpoint``; every endpoint,
  zeros included) `obsrvr_webhook_backlog` (pending messages), `obsrvr_webhook_dead_messages` and
  `obsrvr_webhook_oldest_undelivered_seconds` (age of the oldest pending message).
- Redis degradation (this replica, when it runs with Redis; `storage.redis_breaker`): `obsrvr_redis_available`
  (1 or 0), `obsrvr_redis_outages_total` (times Redis became unreachable) and
  `obsrvr_redis_fallbacks_total{component}` (calls answered without Redis: `cache`, `rate_limiter`, `pubsub`,
  `job_queue`).
- The per-process series of jobs run in this process (the embedded mode: `obsrvr_worker_*`, `workers.metrics`)
  are registered here by the job context.

`/metrics` takes the admin credential or `OBSRVR_METRICS_TOKEN` as a bearer token; without one it is a 401.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage import ingest_totals
from storage.backfill import BackfillStore
from storage.checkpoints import Checkpoints, NetworkTip
from storage.ingest_totals import LEDGERS, ROWS_PREFIX
from storage.redis_breaker import RedisBreaker
from storage.webhooks.operations import Backlog, every_backlog

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger("obsrvr_flow.metrics")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class IngestionSnapshot:
    """What the database and Redis said at the last scrape; a part that could not be read is None (omitted)."""

    tips: dict[str, NetworkTip] | None = None
    totals: dict[str, dict[str, int]] | None = None
    chunks: dict[str, int] | None = None
    queue_depth: int | None = None
    webhooks: list[Backlog] | None = None
    read_at: float = field(default_factory=time.time)


class IngestionStateCollector(Collector):
    """Gauges of the last snapshot, written out by the registry at scrape time."""

    def __init__(self) -> None:
        self.snapshot = IngestionSnapshot()

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        if snapshot.tips is not None:
            last = GaugeMetricFamily(
                "obsrvr_ingest_last_ledger", "Newest ledger ingested per network", labels=["network"]
            )
            lag = GaugeMetricFamily(
                "obsrvr_ingest_lag_seconds",
                "Now minus the close time of the newest ledger ingested per network",
                labels=["network"],
            )
            for network, tip in sorted(snapshot.tips.items()):
                last.add_metric([network], tip.ledger)
                if tip.closed_at is not None:
                    lag.add_metric([network], max(0.0, snapshot.read_at - tip.closed_at.timestamp()))
            yield last
            yield lag
        if snapshot.totals is not None:
            ledgers = CounterMetricFamily(
                "obsrvr_ingest_ledgers", "Ledgers ingested (committed), every worker", labels=["network"]
            )
            rows = CounterMetricFamily(
                "obsrvr_ingest_rows",
                "Rows written by ingestion, every worker and tenant",
                labels=["network", "table"],
            )
            for network, totals in sorted(snapshot.totals.items()):
                for subject, total in sorted(totals.items()):
                    if subject == LEDGERS:
                        ledgers.add_metric([network], total)
                    elif subject.startswith(ROWS_PREFIX):
                        rows.add_metric([network, subject.removeprefix(ROWS_PREFIX)], total)
            yield ledgers
            yield rows
        if snapshot.chunks is not None:
            chunks = GaugeMetricFamily("obsrvr_backfill_chunks", "Backfill chunks by state", labels=["state"])
            for state, count in sorted(snapshot.chunks.items()):
                chunks.add_metric([state], count)
            yield chunks
        if snapshot.queue_depth is not None:
            yield GaugeMetricFamily(
                "obsrvr_job_queue_depth", "Jobs waiting in the arq queue", value=snapshot.queue_depth
            )
        if snapshot.webhooks is not None:
            yield from _webhook_gauges(snapshot.webhooks, snapshot.read_at)


def _webhook_gauges(backlogs: list[Backlog], read_at: float) -> Iterator[Metric]:
    labels = ["tenant", "endpoint"]
    pending = GaugeMetricFamily(
        "obsrvr_webhook_backlog", "Webhook messages not yet delivered (pending) per endpoint", labels=labels
    )
    dead = GaugeMetricFamily(
        "obsrvr_webhook_dead_messages", "Webhook messages whose retries ran out per endpoint", labels=labels
    )
    oldest = GaugeMetricFamily(
        "obsrvr_webhook_oldest_undelivered_seconds",
        "Age of the oldest pending webhook message per endpoint (0 when none is pending)",
        labels=labels,
    )
    now = datetime.fromtimestamp(read_at, UTC)
    for backlog in backlogs:
        names = [backlog.tenant_id, backlog.endpoint_id]
        pending.add_metric(names, backlog.pending)
        dead.add_metric(names, backlog.dead)
        oldest.add_metric(names, backlog.age_seconds(now))
    yield pending
    yield dead
    yield oldest


class RedisBreakerCollector(Collector):
    """What the replica's Redis breaker saw, read at scrape time."""

    def __init__(self, breaker: RedisBreaker) -> None:
        self.breaker = breaker

    def collect(self) -> Iterator[Metric]:
        breaker = self.breaker
        yield GaugeMetricFamily(
            "obsrvr_redis_available",
            "1 while Redis answers, 0 while this replica runs without it",
            value=int(breaker.available),
        )
        yield CounterMetricFamily(
            "obsrvr_redis_outages", "Times this replica found Redis unreachable", value=breaker.outages
        )
        fallbacks = CounterMetricFamily(
            "obsrvr_redis_fallbacks",
            "Calls this replica answered without Redis (cache miss, local rate limit, skipped publish, "
            "refused enqueue)",
            labels=["component"],
        )
        for component in ("cache", "rate_limiter", "pubsub", "job_queue"):
            fallbacks.add_metric([component], breaker.fallbacks[component])
        yield fallbacks


class ApiMetrics:
    """The series of one app, in its own registry (with the Redis breaker's, when there is one)."""

    def __init__(self, registry: CollectorRegistry, redis_breaker: RedisBreaker | None = None) -> None:
        self.registry = registry
        if redis_breaker is not None:
            registry.register(RedisBreakerCollector(redis_breaker))
        labels = ["route", "method", "status"]
        self.http_requests = Counter("obsrvr_http_requests", "HTTP requests", labels, registry=registry)
        self.http_seconds = Histogram(
            "obsrvr_http_request_seconds", "HTTP request duration", labels, registry=registry
        )
        self.graphql_operations = Counter(
            "obsrvr_graphql_operations",
            "GraphQL operations by kind, root fields and outcome",
            ["operation", "root_fields", "status"],
            registry=registry,
        )
        self.ingestion = IngestionStateCollector()
        registry.register(self.ingestion)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        # A method is whatever a client sent: only the standard ones become label values.
        labels = (route, method if method in _METHODS else "other", str(status))
        self.http_requests.labels(*labels).inc()
        self.http_seconds.labels(*labels).observe(seconds)

    def observe_graphql(self, operation: str, root_fields: str, status: str) -> None:
        self.graphql_operations.labels(operation, root_fields, status).inc()

    async def refresh(self, state: AppState) -> None:
        """Read the ingestion state for the gauges; a part that fails is left out and logged."""
        snapshot = IngestionSnapshot()
        try:
            snapshot.tips = await Checkpoints(state.engine).network_tips()
            snapshot.totals = await ingest_totals.read(state.engine)
            snapshot.chunks = await BackfillStore(state.engine).chunks_by_status()
            async with state.engine.connect() as conn:
                snapshot.webhooks = await every_backlog(conn)
        except (
            Exception
        ) as exc:  # a scrape must still answer (with the request series) when the database is down
            log.warning("metrics: the database could not be read: %s: %s", type(exc).__name__, exc)
        try:
            snapshot.queue_depth = await state.backends.jobs.depth()
        except Exception as exc:
            log.warning("metrics: the job queue could not be read: %s: %s", type(exc).__name__, exc)
        self.ingestion.snapshot = snapshot
