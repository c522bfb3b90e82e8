"""An ingestion process loads what ingestion uses: not the cold tier's DuckDB and pyarrow (~60 MB of RSS in every
decoding process, issue 16), which came in through a processor's type-only use of the query router."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a spawned decoding process imports (`ingest.stream`, whose `process_ledger` needs the engine and every
# processor with its extractor), then which of the heavy read-side modules are loaded.
_PROBE = """
import json, sys
import ingest.stream
from processors.registry import default_registry
assert all(p.name for p in default_registry().catalogue().values())
print(json.dumps(sorted(m for m in ("duckdb", "pyarrow", "storage.router", "storage.cold.reader") if m in sys.modules)))
"""


def test_decoding_process_imports_no_cold_tier() -> None:
    # A fresh interpreter: the test process itself has imported everything.
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
