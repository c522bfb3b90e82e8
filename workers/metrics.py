"""Ingestion counters in Prometheus form, kept by the process that ingests.

An arq worker keeps them in a registry of its own and serves it on `OBSRVR_WORKER_METRICS_PORT` (when set); in
the embedded mode the jobs run inside the API process and record into the API app's registry, so they show on
its `GET /metrics`. Series (see docs/decisions.md "Observability"):

- `obsrvr_ingest_ledgers_total{network}`: ledgers committed;
- `obsrvr_ingest_rows_total{network,table}`: rows written, every tenant's, per table;
- `obsrvr_ingest_batch_seconds{network}`: time from the start of a batch's write to its commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from core.errors import ConfigError
from core.settings import Settings

log = logging.getLogger(__name__)

BATCH_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class PrometheusIngestMetrics:
    """`ingest.metrics.IngestMetrics` recording into `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ledgers = Counter(
            "obsrvr_ingest_ledgers", "Ledgers ingested (committed)", ["network"], registry=registry
        )
        self.rows = Counter(
            "obsrvr_ingest_rows",
            "Rows written by ingestion, all tenants",
            ["network", "table"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "obsrvr_ingest_batch_seconds",
            "Time to write and commit one batch of ledgers",
            ["network"],
            buckets=BATCH_SECONDS_BUCKETS,
            registry=registry,
        )

    def record_batch(
        self, network: str, ledgers: int, rows_by_table: Mapping[str, int], seconds: float
    ) -> None:
        self.ledgers.labels(network).inc(ledgers)
        for table, rows in rows_by_table.items():
            self.rows.labels(network, table).inc(rows)
        self.batch_seconds.labels(network).observe(seconds)


def serve_worker_metrics(settings: Settings) -> tuple[CollectorRegistry | None, Any]:
    """The worker's registry and the HTTP server exposing it on `settings.worker_metrics_port` (a thread of
    prometheus_client's), or (None, None) when the port is not set. Stop the server with `.shutdown()`."""
    if settings.worker_metrics_port is None:
        return None, None
    registry = CollectorRegistry()
    where = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    try:
        server, _thread = start_http_server(
            settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
        )
    except OSError as exc:  # a port in use or an address not of this host: say which setting, not a traceback
        raise ConfigError(
            [f"OBSRVR_WORKER_METRICS_PORT: cannot listen on {where}: {exc.strerror or exc}"]
        ) from exc
    log.info(
        "worker metrics on http://%s:%d/metrics", settings.worker_metrics_host, settings.worker_metrics_port
    )
    return registry, server
