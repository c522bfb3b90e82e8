"""Per-process ingestion series in Prometheus form, kept by the process that ingests (the service-wide totals
are in the database and on the API's `GET /metrics`, `api.app_metrics`).

An arq worker keeps them in a registry of its own and serves it on `OBSRVR_WORKER_METRICS_PORT` (when set; it
asks for `OBSRVR_METRICS_TOKEN` as a bearer token when that is set); in the embedded mode the jobs run inside the
API process and record into the API app's registry. Series (see docs/decisions.md "Observability"):

- `obsrvr_worker_ledgers_total{network}`: ledgers this process committed;
- `obsrvr_worker_rows_total{network,table}`: rows it wrote, every tenant's, per table;
- `obsrvr_worker_batch_seconds{network}`: time from the start of a batch's write to its commit.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from pydantic import SecretStr

from core.errors import ConfigError
from core.settings import Settings

log = logging.getLogger(__name__)

BATCH_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class PrometheusIngestMetrics:
    """`ingest.metrics.IngestMetrics` recording into `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ledgers = Counter(
            "obsrvr_worker_ledgers",
            "Ledgers this process ingested (committed)",
            ["network"],
            registry=registry,
        )
        self.rows = Counter(
            "obsrvr_worker_rows",
            "Rows this process wrote by ingestion, all tenants",
            ["network", "table"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "obsrvr_worker_batch_seconds",
            "Time to write and commit one batch of ledgers",
            ["network"],
            buckets=BATCH_SECONDS_BUCKETS,
            registry=registry,
        )
        self.decoder_fallbacks = Counter(
            "obsrvr_decoder_fallbacks",
            "Ledgers the fast decoder could not read, decoded by stellar-sdk instead (committed)",
            ["network", "reason"],
            registry=registry,
        )

    def record_batch(
        self, network: str, ledgers: int, rows_by_table: Mapping[str, int], seconds: float
    ) -> None:
        self.ledgers.labels(network).inc(ledgers)
        for table, rows in rows_by_table.items():
            self.rows.labels(network, table).inc(rows)
        self.batch_seconds.labels(network).observe(seconds)

    def decoder_fallback(self, network: str, reason: str) -> None:
        self.decoder_fallbacks.labels(network, reason).inc()


def serve_worker_metrics(settings: Settings) -> tuple[CollectorRegistry | None, Any]:
    """The worker's registry and the HTTP server exposing it on `settings.worker_metrics_port` (in a thread), or
    (None, None) when the port is not set. With `OBSRVR_METRICS_TOKEN` set, a scrape must send it as a bearer
    token (401 otherwise). Stop the server with `.shutdown()`."""
    if settings.worker_metrics_port is None:
        return None, None
    registry = CollectorRegistry()
    where = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    app = _guarded(make_wsgi_app(registry), settings.metrics_token)
    try:
        server = make_server(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            app,
            ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
    except OSError as exc:  # a port in use or an address not of this host: say which setting, not a traceback
        raise ConfigError(
            [f"OBSRVR_WORKER_METRICS_PORT: cannot listen on {where}: {exc.strerror or exc}"]
        ) from exc
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    log.info("worker metrics on http://%s/metrics", where)
    return registry, server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds: no line each
        return None


def _guarded(app: Any, token: SecretStr | None) -> Any:
    """`app`, answering 401 to a request without `token` as its bearer credential (when a token is set)."""
    if token is None:
        return app
    expected = f"Bearer {token.get_secret_value()}".encode()

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        given = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if not hmac.compare_digest(given, expected):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="obsrvr-flow-metrics"')],
            )
            return [b"send OBSRVR_METRICS_TOKEN as 'Authorization: Bearer <token>'\n"]
        return app(environ, start_response)

    return guarded
