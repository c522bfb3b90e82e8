"""The garbage collector's and the interpreter's thread-switch settings for an ingestion process (issue 16).

An ingestion process (a worker, a decoding pool's process, `obsrvr-flow ingest`) imports a large, permanent
heap at start-up (SQLAlchemy, pydantic, stellar-sdk, every processor) that is never garbage, and then builds
hundreds of thousands of short-lived, acyclic objects per ledger (freed by reference counting). Left as Python
starts, the cyclic collector's full collections walk the whole start-up heap again and again (~0.2 s each
here), and its young collections run every 700 allocations. `tune_for_ingestion` moves everything alive at
start-up out of the collector's reach (`gc.freeze`) and collects the young generation less often; the
measurement behind the numbers is in docs/decisions.md ("Ingestion pipeline speed (issue 16)").

In one ingesting process, ledgers decode in a thread beside the event loop that writes them (`ingest.stream`),
and the writing is the pipeline's critical path: each of a batch's ~40 statements wakes the loop when
PostgreSQL answers, and the loop then waits for the decoding thread to hand over the interpreter, up to the
switch interval (5 ms as Python starts; up to ~200 ms a batch). `INGESTION_SWITCH_INTERVAL` shortens that wait.

Only for processes that ingest for their whole life: a frozen object is never collected, so a test process or
one that builds and drops many apps must not call it.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["INGESTION_SWITCH_INTERVAL", "INGESTION_THRESHOLDS", "tune_for_ingestion"]

INGESTION_THRESHOLDS = (50_000, 20, 20)
"""(young, middle, old): a young collection after 50,000 net allocations instead of 700, so that the rows and
small objects of one ledger are mostly freed by reference counting before any collection looks at them."""


INGESTION_SWITCH_INTERVAL = 0.0005
"""Seconds a thread waiting for the interpreter waits before asking the running one to hand it over (Python's
default 0.005). Measured with `bench/ingest.py`'s one-process pipeline (second passes, 8 rounds alternated):
median 9.8 ledgers/s at 5 ms, 9.6 at 2 ms, 10.7 at 0.5 ms (docs/decisions.md, "pipeline17")."""


def tune_for_ingestion() -> None:
    """Collect once, freeze what survives (the start-up heap), set `INGESTION_THRESHOLDS` and
    `INGESTION_SWITCH_INTERVAL`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*INGESTION_THRESHOLDS)
    sys.setswitchinterval(INGESTION_SWITCH_INTERVAL)
