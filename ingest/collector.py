"""The garbage collector's settings for an ingestion process (issue 16).

An ingestion process (a worker, a decoding pool's process, `obsrvr-flow ingest`) imports a large, permanent
heap at start-up (SQLAlchemy, pydantic, stellar-sdk, every processor) that is never garbage, and then builds
hundreds of thousands of short-lived, acyclic objects per ledger (freed by reference counting). Left as Python
starts, the cyclic collector's full collections walk the whole start-up heap again and again (~0.2 s each
here), and its young collections run every 700 allocations. `tune_for_ingestion` moves everything alive at
start-up out of the collector's reach (`gc.freeze`) and collects the young generation less often; the
measurement behind the numbers is in docs/decisions.md ("Ingestion pipeline speed (issue 16)").

Only for processes that ingest for their whole life: a frozen object is never collected, so a test process or
one that builds and drops many apps must not call it.
"""

from __future__ import annotations

import gc

__all__ = ["INGESTION_THRESHOLDS", "tune_for_ingestion"]

INGESTION_THRESHOLDS = (50_000, 20, 20)
"""(young, middle, old): a young collection after 50,000 net allocations instead of 700, so that the rows and
small objects of one ledger are mostly freed by reference counting before any collection looks at them."""


def tune_for_ingestion() -> None:
    """Collect once, freeze what survives (the start-up heap) and set `INGESTION_THRESHOLDS`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*INGESTION_THRESHOLDS)
