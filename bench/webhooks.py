"""Webhook delivery: throughput of one worker process, and latency from a ledger's commit to its first attempt.

In one run, with real processes: a fresh PostgreSQL database (migrated by `obsrvr-flow migrate`), Redis under a
random key prefix and queue name, one `obsrvr-flow worker` (its webhook arq worker delivers), and a receiver on
loopback in this process verifying every request with `standardwebhooks` (tests/services/webhooks/receiver.py).

1. Throughput: `--messages` messages are written into the outbox of an unordered endpoint (`max_concurrency`
   8) and of an ordered one; deliveries per second are counted at the receiver, from its first to its last
   arrival, per endpoint kind.
2. Latency: the 20 real mainnet ledgers (../shared/ledgers) are ingested here one ledger per batch, one every
   `--interval` seconds, by the real `IngestEngine` with the real outbox recorder and the after-commit wake-up
   hook (as a live tail does); an endpoint takes the tenant's transfers of at least 10,000 units (raw amount
   >= 10^11: ~30 a ledger). For each ledger: the time from its commit (a commit hook stamps it) to the first
   delivery attempt of any of its messages (`webhook_attempts.started_at`, same host clock). Prints p50, p99.
The database and the Redis keys are removed at the end (OBSRVR_BENCH_PG_ADMIN_URL, OBSRVR_BENCH_REDIS_URL).

    .venv/bin/python bench/webhooks.py [--messages 2000] [--interval 1.0]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from core.settings import Network  # noqa: E402
from core.tenant_config import parse_tenant_config  # noqa: E402
from ingest.engine import CommittedBatch, IngestEngine, plan_tenants  # noqa: E402
from ingest.webhook_wakeup import delivery_notifier  # noqa: E402
from processors.registry import default_registry  # noqa: E402
from services.webhooks.recorder import outbox_for  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.jobs import ArqJobQueue  # noqa: E402
from storage.tables import tenants  # noqa: E402
from tests import corpus  # noqa: E402
from tests.servers import CLI, drop_redis_keys, spawn_cli, stop_process  # noqa: E402
from tests.services.webhooks.receiver import Receiver  # noqa: E402
from tests.services.webhooks.seed import add_endpoint, add_messages  # noqa: E402
from workers.webhook_jobs import webhook_queue_name  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("OBSRVR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LEDGERS = Path(__file__).resolve().parents[2] / "shared" / "ledgers"
TENANT = "benchhooks"


def tenant_document() -> dict[str, Any]:
    processor = {"type": "TokenTransferProcessor", "config": {}}
    return {"customer": {"id": TENANT, "name": TENANT, "network": "pubnet", "processors": [processor]}}


async def wait_for(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


async def throughput(engine: Any, receiver: Receiver, messages: int) -> dict[str, float]:
    rates: dict[str, float] = {}
    for kind, ordered in (("unordered (8 in flight)", False), ("ordered", True)):
        endpoint_id, secret = await add_endpoint(
            engine,
            TENANT,
            receiver.url,
            endpoint_id=f"ep_tp_{int(ordered)}",
            ordered=ordered,
            max_concurrency=1 if ordered else 8,
        )
        receiver.secrets[:] = [secret]
        receiver.arrivals.clear()
        await add_messages(engine, endpoint_id, TENANT, range(messages), at=datetime.now(UTC))

        async def done(count: int = messages) -> bool:
            return len(receiver.delivered_ids()) >= count

        await wait_for(done, 600, f"{messages} deliveries ({kind})")
        times = [a.at for a in receiver.arrivals]
        rates[kind] = (len(times) - 1) / max(max(times) - min(times), 1e-9)
        assert receiver.all_verified()
    return rates


async def latency(engine: Any, receiver: Receiver, redis_prefix: str, interval: float) -> list[float]:
    """Seconds from each ledger's commit to the first attempt of its messages."""
    registry = default_registry()
    config = parse_tenant_config(tenant_document(), registry.catalogue())
    plans = plan_tenants([config], registry.catalogue(), Network.pubnet)
    results = corpus.tenant_results(LEDGERS, corpus.MAINNET_20, plans)
    endpoint_id, secret = await add_endpoint(
        engine, TENANT, receiver.url, endpoint_id="ep_live", ordered=False, max_concurrency=8
    )
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE webhook_endpoints SET filter = :f WHERE id = :id"),
            {"f": '{"min_amount": "100000000000"}', "id": endpoint_id},
        )
    receiver.secrets[:] = [secret]
    jobs = await ArqJobQueue.connect(REDIS_URL, webhook_queue_name(f"{redis_prefix}queue"))
    commits: dict[int, float] = {}

    async def stamp(batch: CommittedBatch) -> None:
        commits[batch.last_ledger] = time.time()

    ingest = IngestEngine(
        engine,
        Network.pubnet,
        hooks=[stamp, delivery_notifier(jobs)],
        plans=plans,
        outbox=outbox_for(registry),
    )
    try:
        for result in results:
            await ingest.write_batch([result])
            await asyncio.sleep(interval)

        async def delivered() -> bool:
            async with engine.connect() as conn:
                left = await conn.scalar(
                    text(
                        "SELECT count(*) FROM webhook_messages WHERE endpoint_id = 'ep_live' AND status <> 'delivered'"
                    )
                )
            return left == 0

        await wait_for(delivered, 300, "the live deliveries")
    finally:
        await jobs.close()
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT m.ledger, min(a.started_at) FROM webhook_messages m JOIN webhook_attempts a"
                " ON a.message_id = m.id WHERE m.endpoint_id = 'ep_live' GROUP BY m.ledger"
            )
        )
        first = {int(ledger): started.replace(tzinfo=UTC).timestamp() for ledger, started in rows}
    return [first[ledger] - commits[ledger] for ledger in sorted(first)]


async def run(args: argparse.Namespace) -> None:
    name = f"obsrvr_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"obsrvr-bench:{uuid.uuid4().hex[:8]}:"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    env = {
        **clean,
        "OBSRVR_DATABASE_URL": url,
        "OBSRVR_REDIS_URL": REDIS_URL,
        "OBSRVR_REDIS_PREFIX": prefix,
        "OBSRVR_QUEUE_NAME": f"{prefix}queue",
        "OBSRVR_KEY_PEPPER": "bench-pepper",
        "OBSRVR_DECODE_PROCESSES": "1",
        "OBSRVR_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    worker = None
    receiver = Receiver([]).start()
    engine = create_engine(url)
    try:
        done = await asyncio.to_thread(
            subprocess.run, [*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                insert(tenants).values(
                    id=TENANT,
                    name=TENANT,
                    network="pubnet",
                    config=tenant_document(),
                    created_at=now,
                    updated_at=now,
                )
            )
        worker = spawn_cli(["worker"], env)
        rates = await throughput(engine, receiver, args.messages)
        latencies = await latency(engine, receiver, prefix, args.interval)
    finally:
        if worker is not None:
            worker.terminate()
            stop_process(worker, timeout=20)
        receiver.stop()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await drop_redis_keys(REDIS_URL, prefix)
    for kind, rate in rates.items():
        print(f"throughput, one worker process, {args.messages} messages, {kind}: {rate:.0f} deliveries/s")
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(
        f"commit -> first attempt, {len(ordered)} ledgers one every {args.interval:g} s: "
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="messages per endpoint for the throughput")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ledgers for the latency")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
