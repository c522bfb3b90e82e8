"""`tune_for_ingestion` in a process of its own (it freezes that process's heap for good): the collector's
thresholds, the frozen start-up heap and the shorter thread-switch interval are all set."""

from __future__ import annotations

import json
import subprocess
import sys

from ingest.collector import INGESTION_SWITCH_INTERVAL, INGESTION_THRESHOLDS

PROBE = """
import gc, json, sys
before = sys.getswitchinterval()
from ingest.collector import tune_for_ingestion
tune_for_ingestion()
print(json.dumps([before, sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()]))
"""


def test_an_ingestion_process_is_tuned() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter and our own probe
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, thresholds, frozen = json.loads(done.stdout)
    assert before == 0.005 and after == INGESTION_SWITCH_INTERVAL < before
    assert tuple(thresholds) == INGESTION_THRESHOLDS
    assert frozen > 1000  # the imported modules' objects
