"""A real worker process is killed (SIGKILL) in the middle of a backfill; another finishes it. Afterwards every
ledger's rows are there exactly once: no gap, no duplicate."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import plan_tenants
from processors.registry import default_registry
from tests import corpus
from tests.api.helpers import sql
from tests.cli_runner import run_cli
from tests.conftest import REDIS_URL
from tests.servers import spawn_cli, stop_process, wait_until
from tests.workers.test_ingest_jobs import FIRST, LAST, set_tip, tenant_doc

# Minutes long (two workers, the second waits out the first's job timeout):
# started first under pytest-xdist, see tests/parallel.py `order_files`.
pytestmark = pytest.mark.heavy(65)


def _env(pg_url: str, redis_prefix: str, source: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    return {
        **clean,
        "OBSRVR_DATABASE_URL": pg_url,
        "OBSRVR_REDIS_URL": REDIS_URL,
        "OBSRVR_REDIS_PREFIX": redis_prefix,
        "OBSRVR_QUEUE_NAME": f"{redis_prefix}queue",
        "OBSRVR_KEY_PEPPER": "crash-test-pepper",
        "OBSRVR_PUBNET_SOURCE": str(source),
        "OBSRVR_BACKFILL_CHUNK_LEDGERS": "5",
        "OBSRVR_DECODE_PROCESSES": "1",  # two jobs at a time per worker: several chunks in flight at the kill
        # A killed worker's job is taken up again once its in-progress mark expires (timeout + 10 s); the
        # timeout leaves a 5-ledger chunk ample time on a busy machine.
        "OBSRVR_JOB_TIMEOUT_SECONDS": "40",
    }


def _expected_rows(config_text: str, root: Path) -> dict[str, dict[int, int]]:
    """Rows per table per ledger, computed in memory from the same ledgers (no database involved; the ledgers
    are decoded once per session, tests/corpus.py)."""
    config = parse_tenant_config(yaml.safe_load(config_text), default_registry().catalogue())
    plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)
    results = corpus.tenant_results(root, corpus.MAINNET_20, plans)
    assert [result.sequence for result in results] == list(range(FIRST, LAST + 1))
    counts: dict[str, dict[int, int]] = {}
    for result in results:
        for tables in result.rows[config.customer.id].values():
            for table, rows in tables.items():
                counts.setdefault(table, {})[result.sequence] = len(rows)
    return counts


def test_sigkill_mid_backfill_loses_and_repeats_nothing(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None, shared_ledgers: Path, tmp_path: Path
) -> None:
    source = shared_ledgers / "wallet-backend"
    env = _env(migrated_pg, redis_prefix, source)
    set_tip(migrated_pg, LAST)
    config_text = tenant_doc("crash-test", FIRST)
    (tmp_path / "tenant.yaml").write_text(config_text)
    applied = run_cli(["tenants", "apply", str(tmp_path / "tenant.yaml")], env, timeout=120)
    assert applied.returncode == 0, applied.stderr
    assert "queued" in applied.stdout

    def committed() -> int:
        rows = sql(
            migrated_pg, "SELECT coalesce(max(ledger), 0) FROM checkpoints WHERE name LIKE 'backfill:%'"
        )
        return int(rows[0][0])

    first = spawn_cli(["worker"], env)
    try:
        wait_until(lambda: committed() > 0, 120, "the first worker to commit a batch", every=0.3)
    finally:
        first.send_signal(signal.SIGKILL)
        stop_process(first, timeout=30)
    statuses = sql(migrated_pg, "SELECT status FROM backfill_ranges")
    assert any(s[0] != "done" for s in statuses), (
        "the worker finished before it was killed; nothing was tested"
    )

    second = spawn_cli(["worker"], env)
    try:
        wait_until(
            lambda: all(s[0] == "done" for s in sql(migrated_pg, "SELECT status FROM backfill_ranges")),
            240,
            "the second worker to finish the backfill",
            every=0.3,
        )
    finally:
        second.send_signal(signal.SIGTERM)
        stop_process(second, timeout=30)

    expected = _expected_rows(config_text, shared_ledgers)
    for table, per_ledger in expected.items():
        stored = dict(
            sql(migrated_pg, f"SELECT ledger_sequence, count(*) FROM {table} GROUP BY ledger_sequence")
        )
        assert {k: v for k, v in per_ledger.items() if v} == stored, table
        distinct = sql(migrated_pg, f"SELECT count(*), count(DISTINCT id) FROM {table}")
        assert distinct[0][0] == distinct[0][1]
