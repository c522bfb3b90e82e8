"""Webhooks through the real processes: `obsrvr-flow ingest` records messages with the rows (real mainnet
ledgers), `obsrvr-flow worker` (its webhook arq worker) or `obsrvr-flow serve` (embedded: SQLite, no Redis)
delivers them to a real receiver verifying with `standardwebhooks`. Processes are SIGKILLed mid-way: nothing is
lost, duplicates carry the same `webhook-id`, and no message exists without its row."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api.helpers import execute, sql
from tests.cli_runner import run_cli
from tests.conftest import REDIS_URL
from tests.servers import free_port, spawn_cli, stop_process, wait_until
from tests.services.webhooks.receiver import Receiver, receiving
from tests.workers.test_ingest_jobs import FIRST, LAST

TENANT = "hooks"
LARGE = '{"min_amount": "100000000000"}'  # 631 of the 20 ledgers' 10,073 transfers: enough, and quick to send


def _env(db_url: str, redis_prefix: str | None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    env = {
        **clean,
        "OBSRVR_DATABASE_URL": db_url,
        "OBSRVR_KEY_PEPPER": "webhook-test-pepper",
        "OBSRVR_DECODE_PROCESSES": "1",
        "OBSRVR_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "OBSRVR_WEBHOOK_SWEEP_SECONDS": "1",
        "OBSRVR_JOB_TIMEOUT_SECONDS": "40",
    }
    if redis_prefix is not None:
        env |= {
            "OBSRVR_REDIS_URL": REDIS_URL,
            "OBSRVR_REDIS_PREFIX": redis_prefix,
            "OBSRVR_QUEUE_NAME": f"{redis_prefix}queue",
        }
    return env


def _cli(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = run_cli(args, env, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _apply_tenant(env: dict[str, str], tmp_path: Path) -> None:
    doc = {
        "customer": {
            "id": TENANT,
            "name": TENANT,
            "network": "pubnet",
            "processors": [{"type": "TokenTransferProcessor", "start_ledger": FIRST, "config": {}}],
        }
    }
    (tmp_path / "tenant.yaml").write_text(yaml.safe_dump(doc))
    _cli(["tenants", "apply", str(tmp_path / "tenant.yaml")], env)


def _add_endpoint(db_url: str, url: str, *, ordered: bool) -> str:
    """An endpoint of the tenant (inserted as the admin API stores one); its secret."""
    from services.webhooks.signing import new_secret

    secret = new_secret("hmac")[0]
    execute(
        db_url,
        "INSERT INTO webhook_endpoints (id, tenant_id, url, events, filter, signing, secret, ordered, "
        "max_concurrency, source, status, created_at, updated_at) VALUES ('ep_hooks', :tenant, :url, "
        "'[\"token_transfer\"]', :filter, 'hmac', :secret, :ordered, :width, 'api', 'enabled', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        tenant=TENANT,
        filter=LARGE,
        url=url,
        secret=secret,
        ordered=ordered,
        width=1 if ordered else 4,
    )
    return secret


def _ingest(env: dict[str, str], source: Path, *, batch: int = 4) -> subprocess.Popen[bytes]:
    args = ["ingest", "--network", "pubnet", "--source", str(source), "--from", str(FIRST), "--to", str(LAST)]
    return spawn_cli([*args, "--batch-size", str(batch)], env)


def _messages(db_url: str) -> list[Any]:
    return sql(
        db_url, "SELECT id, status, row_id FROM webhook_messages WHERE endpoint_id = 'ep_hooks' ORDER BY id"
    )


def _progress(db_url: str, log: Path) -> Any:
    def details() -> str:
        counts = sql(db_url, "SELECT status, count(*) FROM webhook_messages GROUP BY status")
        return f"messages by status: {counts}\n" + (log.read_text()[-4000:] if log.exists() else "")

    return details


def _assert_each_delivered_once(db_url: str, receiver: Receiver) -> None:
    messages = _messages(db_url)
    ids = {m[0] for m in messages}
    assert ids and {m[1] for m in messages} == {"delivered"}
    delivered = receiver.delivered_ids()
    assert (
        set(delivered) == ids
    )  # every one arrived; duplicates (after a crash) only with the same webhook-id
    assert receiver.all_verified()


def test_worker_sigkilled_mid_delivery_loses_nothing(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None, shared_ledgers: Path, tmp_path: Path
) -> None:
    env = _env(migrated_pg, redis_prefix)
    with receiving([]) as receiver:
        quiet = {k: v for k, v in env.items() if k != "OBSRVR_REDIS_URL"}  # recorded now, delivered later
        _apply_tenant(quiet, tmp_path)
        receiver.secrets.append(_add_endpoint(migrated_pg, receiver.url, ordered=False))
        ingest = _ingest(quiet, shared_ledgers / "wallet-backend")
        assert ingest.wait(timeout=300) == 0
        total = len(_messages(migrated_pg))
        assert total > 50, "too few messages to catch a worker in the middle of them"
        receiver.delay = 0.01  # each answer takes a moment: the kill lands mid-delivery

        first = spawn_cli(["worker"], env)
        try:
            wait_until(lambda: len(receiver.delivered_ids()) >= total // 5, 120, "the first deliveries")
        finally:
            first.send_signal(signal.SIGKILL)
            stop_process(first, timeout=30)
        assert len(receiver.unique_delivered()) < total, "the worker finished before it was killed"
        receiver.delay = 0.0

        second = spawn_cli(["worker"], env)
        try:
            wait_until(
                lambda: {m[1] for m in _messages(migrated_pg)} == {"delivered"},
                180,
                "the second worker to deliver the rest",
                every=0.3,
            )
        finally:
            second.send_signal(signal.SIGTERM)
            stop_process(second, timeout=30)
        _assert_each_delivered_once(migrated_pg, receiver)


def test_ingest_sigkilled_between_batches_records_messages_with_their_rows(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None, shared_ledgers: Path, tmp_path: Path
) -> None:
    env = _env(migrated_pg, None)
    source = shared_ledgers / "wallet-backend"
    with receiving([]) as receiver:
        _apply_tenant(env, tmp_path)
        receiver.secrets.append(_add_endpoint(migrated_pg, receiver.url, ordered=True))
        ingest = _ingest(env, source, batch=1)
        try:
            wait_until(
                lambda: sql(migrated_pg, "SELECT count(*) FROM token_transfers")[0][0] > 0, 240, "a batch"
            )
        finally:
            ingest.send_signal(signal.SIGKILL)
            stop_process(ingest, timeout=30)

        def rows_and_messages() -> tuple[set[str], set[str]]:
            rows = {
                r[0]
                for r in sql(
                    migrated_pg,
                    "SELECT id FROM token_transfers WHERE tenant_id = :t"
                    " AND abs(CAST(amount_raw AS numeric)) >= 100000000000",  # the endpoint's filter (LARGE)
                    t=TENANT,
                )
            }
            return rows, {m[2] for m in _messages(migrated_pg)}

        rows, recorded = rows_and_messages()
        ledgers = sql(migrated_pg, "SELECT count(DISTINCT ledger_sequence) FROM token_transfers")[0][0]
        assert 0 < ledgers < LAST - FIRST + 1, "the ingest was not killed in the middle"
        assert rows == recorded  # each committed row has its message, and no message lacks its row

        # Again to the end (idempotent: nothing recorded twice), then a worker delivers every message.
        assert _ingest(env, source).wait(timeout=300) == 0
        rows, recorded = rows_and_messages()
        assert rows == recorded and len(_messages(migrated_pg)) == len(recorded)
        worker = spawn_cli(["worker"], _env(migrated_pg, redis_prefix), tmp_path / "worker.log")
        try:
            wait_until(
                lambda: {m[1] for m in _messages(migrated_pg)} == {"delivered"},
                180,
                "every delivery",
                every=0.3,
                details=_progress(migrated_pg, tmp_path / "worker.log"),
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            stop_process(worker, timeout=30)
        _assert_each_delivered_once(migrated_pg, receiver)
        # Ordered endpoint: each message once, in ledger then id order.
        expected = [r[0] for r in sql(migrated_pg, "SELECT id FROM webhook_messages ORDER BY ledger, id")]
        assert receiver.delivered_ids() == expected


def test_embedded_mode_delivers_what_ingest_recorded(
    migrated_sqlite: str, shared_ledgers: Path, tmp_path: Path
) -> None:
    """`obsrvr-flow ingest` on SQLite (no Redis, no server running) records; `obsrvr-flow serve` delivers."""
    env = _env(migrated_sqlite, None)
    with receiving([]) as receiver:
        _apply_tenant(env, tmp_path)
        receiver.secrets.append(_add_endpoint(migrated_sqlite, receiver.url, ordered=True))
        assert _ingest(env, shared_ledgers / "wallet-backend").wait(timeout=300) == 0
        assert len(_messages(migrated_sqlite)) > 0 and receiver.arrivals == []
        port = free_port()
        server = spawn_cli(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "serve.log")
        try:
            wait_until(
                lambda: {m[1] for m in _messages(migrated_sqlite)} == {"delivered"},
                180,
                "the embedded runner's deliveries",
                every=0.3,
                details=lambda: (tmp_path / "serve.log").read_text()[-3000:],
            )
        finally:
            server.send_signal(signal.SIGTERM)
            stop_process(server, timeout=30)
        _assert_each_delivered_once(migrated_sqlite, receiver)
        assert len(receiver.delivered_ids()) == len(_messages(migrated_sqlite))  # a clean run: no duplicate


pytestmark = [pytest.mark.usefixtures("shared_ledgers"), pytest.mark.heavy(188)]
