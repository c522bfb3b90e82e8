"""Live by itself, with real processes: PostgreSQL, Redis, `obsrvr-flow worker` and `obsrvr-flow serve`, on a
datastore folder in galexie's layout that holds some ledgers and gets no new one until the test writes it.

From `obsrvr-flow tenants apply` alone (a tenant with a `start_ledger`, no live checkpoint, nothing ingested):
the live tail starts at the datastore's tip, its first ledger plans the deferred backfill, the backfill fills
the ledgers before the tip, and each new object the test writes is served by REST."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import plan_tenants, process_ledger
from ledgers.samples import PUBNET_PASSPHRASE, GrowingDatastore
from processors.registry import default_registry
from tests.api.helpers import sql
from tests.cli_runner import run_cli
from tests.conftest import REDIS_URL
from tests.servers import free_port, spawn_cli, stop_process, wait_until

FIRST, TIP, LAST = 2, 9, 12  # 2..9 are there at the start (9 is the tip); 10..12 are written by the test
TENANT = "live-by-itself"
CONFIG = {
    "customer": {
        "id": TENANT,
        "name": "Live by itself",
        "network": "pubnet",
        "processors": [{"type": "TokenTransferProcessor", "start_ledger": FIRST, "config": {}}],
        "api": {"cache_ttl_seconds": 0},
    }
}


@pytest.fixture
def lake(tmp_path: Path) -> GrowingDatastore:
    lake = GrowingDatastore(tmp_path / "lake", PUBNET_PASSPHRASE, FIRST, LAST - FIRST + 1)
    for sequence in range(FIRST, TIP + 1):
        lake.write(sequence)
    return lake


@pytest.fixture
def deployment(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None, lake: GrowingDatastore
) -> Iterator[tuple[dict[str, str], str]]:
    """A worker and an API server on the lake, stopped (with their process groups) after the test."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    env = {
        **clean,
        "OBSRVR_DATABASE_URL": migrated_pg,
        "OBSRVR_REDIS_URL": REDIS_URL,
        "OBSRVR_REDIS_PREFIX": redis_prefix,
        "OBSRVR_QUEUE_NAME": f"{redis_prefix}queue",
        "OBSRVR_KEY_PEPPER": "live-test-pepper",
        "OBSRVR_PUBNET_SOURCE": str(lake.folder),
        "OBSRVR_BACKFILL_CHUNK_LEDGERS": "4",
        "OBSRVR_DECODE_PROCESSES": "1",
        "OBSRVR_AUTH_CACHE_SECONDS": "0",
    }
    port = free_port()
    processes = [
        spawn_cli(args, env) for args in (["worker"], ["serve", "--host", "127.0.0.1", "--port", str(port)])
    ]
    try:
        yield env, f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process, timeout=20)


def _expected(lake: GrowingDatastore) -> dict[int, int]:
    """Token transfers per ledger, extracted in memory from the same ledgers (no database, no service)."""
    config = parse_tenant_config(CONFIG, default_registry().catalogue())
    plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)
    counts = {}
    for sequence, ledger in lake.by_sequence.items():
        result = process_ledger(ledger.xdr, PUBNET_PASSPHRASE, plans)
        counts[sequence] = sum(
            len(rows) for tables in result.rows[TENANT].values() for rows in tables.values()
        )
    return counts


def test_goes_live_and_backfills_by_itself(
    deployment: tuple[dict[str, str], str], lake: GrowingDatastore, migrated_pg: str, tmp_path: Path
) -> None:
    env, base = deployment
    (tmp_path / "tenant.yaml").write_text(yaml.safe_dump(CONFIG))
    applied = run_cli(["tenants", "apply", str(tmp_path / "tenant.yaml")], env, timeout=60)
    assert applied.returncode == 0, applied.stderr
    assert "deferred" in applied.stdout  # nothing of the network ingested yet
    key = applied.stdout.strip().splitlines()[-1]
    expected = _expected(lake)
    assert all(expected.values())  # every sample ledger has transfers (fees at least)

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:

        def served(ledger: int) -> int:
            try:
                response = client.get(
                    f"/api/v1/{TENANT}/token-transfers", params={"from": ledger, "to": ledger, "limit": 200}
                )
            except httpx.TransportError:
                return 0  # the server is still starting
            return len(response.json()["data"]) if response.status_code == 200 else 0

        # The tail starts at the tip by itself; its first ledger plans the backfill of FIRST..TIP.
        assert wait_until(lambda: served(TIP), 25, "the tip to be served") == expected[TIP]
        for sequence in range(TIP + 1, LAST + 1):
            lake.write(sequence)
            assert wait_until(lambda s=sequence: served(s), 10, f"ledger {sequence}") == expected[sequence]
        wait_until(
            lambda: (
                sql(migrated_pg, "SELECT count(*) FILTER (WHERE status <> 'done') FROM backfill_ranges")
                == [(0,)]
            ),
            20,
            "the backfill to finish",
        )
        assert {s: served(s) for s in range(FIRST, LAST + 1)} == expected

    assert sql(migrated_pg, "SELECT min(start_ledger), max(end_ledger) FROM backfill_ranges") == [
        (FIRST, TIP)
    ]
    assert sql(migrated_pg, "SELECT ledger FROM checkpoints WHERE name = 'live:pubnet'") == [(LAST,)]
