"""What the ingestion engine tells the outside about its work: one call per committed batch.

The engine records through this small interface, handed in by whoever runs it (the worker and the API in the
embedded mode pass a Prometheus-backed one, `workers.metrics.PrometheusIngestMetrics`); by default nothing is
recorded, so the engine, the CLI's `ingest` and tests need no metrics library.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class IngestMetrics(Protocol):
    def record_batch(
        self, network: str, ledgers: int, rows_by_table: Mapping[str, int], seconds: float
    ) -> None:
        """A batch of `ledgers` ledgers of `network` was committed with `rows_by_table` rows (every tenant's)
        in `seconds` (from the start of its write to its commit)."""
        ...

    def decoder_fallback(self, network: str, reason: str) -> None:
        """A ledger of `network` the fast decoder could not read (`reason`, e.g. ``unknown_arm``) was decoded by
        stellar-sdk instead and committed."""
        ...


class NoIngestMetrics:
    """Records nothing."""

    def record_batch(
        self, network: str, ledgers: int, rows_by_table: Mapping[str, int], seconds: float
    ) -> None:
        return None

    def decoder_fallback(self, network: str, reason: str) -> None:
        return None


NO_INGEST_METRICS: IngestMetrics = NoIngestMetrics()
