"""Freshness of the live tail: from a ledger object's appearance in the datastore to its rows served by REST.

In one run, with real processes as in production: a fresh PostgreSQL database (migrated by `obsrvr-flow
migrate`), Redis under a random key prefix and queue name, one `obsrvr-flow worker` and one `obsrvr-flow serve`
on a datastore folder in galexie's layout holding a few sample ledgers (ledgers/samples). A tenant is applied
with `obsrvr-flow tenants apply` alone; once its tail has started by itself (the tip is served), one new ledger
object is renamed into place every `--interval` seconds, and the time from that rename to the first REST answer
holding the ledger's rows (REST polled every `--poll` seconds) is measured. The live tail's budget is short
(`--budget`), so the run crosses several hand-overs between live-tail jobs. Prints p50, p99 and max. The
database and the Redis keys are removed at the end (OBSRVR_BENCH_PG_ADMIN_URL, default
postgresql://root@127.0.0.1:5432/postgres; OBSRVR_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0).

    .venv/bin/python bench/freshness.py [--objects 30] [--interval 2] [--poll 0.02] [--budget 15]
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
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import yaml  # noqa: E402

from ledgers.samples import PUBNET_PASSPHRASE, GrowingDatastore  # noqa: E402
from tests.servers import CLI, drop_redis_keys, free_port, spawn_cli, stop_process  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("OBSRVR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TENANT = "freshness"
FIRST, AT_START = 2, 5  # ledgers in the datastore before the run (the last one is the tip the tail starts at)


def tenant_document() -> str:
    processor = {"type": "TokenTransferProcessor", "start_ledger": FIRST, "config": {}}
    customer = {"id": TENANT, "name": "Freshness", "network": "pubnet", "processors": [processor]}
    return str(yaml.safe_dump({"customer": {**customer, "api": {"cache_ttl_seconds": 0}}}))


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"obsrvr-flow {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


async def served(client: httpx.AsyncClient, ledger: int) -> bool:
    """Whether REST answers rows of `ledger` (every sample ledger has transfers: fees at least)."""
    try:
        response = await client.get(
            f"/api/v1/{TENANT}/token-transfers", params={"from": ledger, "to": ledger, "limit": 1}
        )
    except httpx.TransportError:
        return False
    return response.status_code == 200 and bool(response.json()["data"])


async def until_served(client: httpx.AsyncClient, ledger: int, poll: float, limit: float) -> float:
    """Seconds until `ledger` is served (from the call), polling every `poll`; inf past `limit` seconds."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if await served(client, ledger):
            return time.monotonic() - began
        await asyncio.sleep(poll)
    return float("inf")


async def measure(args: argparse.Namespace, lake: GrowingDatastore, base: str, key: str) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        start = await until_served(client, AT_START, 0.1, 120)
        if start == float("inf"):
            raise SystemExit("the live tail did not start by itself within 120 s")
        print(f"tip {AT_START} served {start:.1f} s after the tenant was applied (start-up included)")
        tasks = []
        for sequence in range(AT_START + 1, AT_START + 1 + args.objects):
            tick = time.monotonic()
            lake.write(sequence)  # appears whole at its rename, as galexie's objects do
            tasks.append(asyncio.create_task(until_served(client, sequence, args.poll, 30)))
            await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
        return list(await asyncio.gather(*tasks))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def run(args: argparse.Namespace) -> None:
    name = f"obsrvr_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"obsrvr-bench:{uuid.uuid4().hex[:8]}:"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            lake = GrowingDatastore(
                Path(folder), PUBNET_PASSPHRASE, FIRST, AT_START - FIRST + 1 + args.objects
            )
            for sequence in range(FIRST, AT_START + 1):
                lake.write(sequence)
            url = (
                ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
            )
            clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
            env = {
                **clean,
                "OBSRVR_DATABASE_URL": url,
                "OBSRVR_REDIS_URL": REDIS_URL,
                "OBSRVR_REDIS_PREFIX": prefix,
                "OBSRVR_QUEUE_NAME": f"{prefix}queue",
                "OBSRVR_KEY_PEPPER": "bench-pepper",
                "OBSRVR_PUBNET_SOURCE": folder,
                "OBSRVR_DECODE_PROCESSES": "1",
                "OBSRVR_LIVE_TAIL_BUDGET_SECONDS": str(args.budget),
                "OBSRVR_AUTH_CACHE_SECONDS": "0",
            }
            cli(env, "migrate")
            port = free_port()
            for command in (["worker"], ["serve", "--host", "127.0.0.1", "--port", str(port)]):
                processes.append(spawn_cli(command, env))  # started once, before measuring
            (Path(folder) / "tenant.yaml").write_text(tenant_document())
            key = cli(env, "tenants", "apply", str(Path(folder) / "tenant.yaml")).strip().splitlines()[-1]
            latencies = await measure(args, lake, f"http://127.0.0.1:{port}", key)
            handovers = await _handovers(prefix)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process, timeout=20)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await drop_redis_keys(REDIS_URL, prefix)
    report(args, latencies, handovers)


async def _handovers(prefix: str) -> int:
    """Live-tail jobs that took over from another, finished or running (their ids end in a nanosecond time)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        successors = f"{prefix}queue:live:pubnet:" + "?" * 19
        finished = [k async for k in redis.scan_iter(match=f"arq:result:{successors}")]
        running = [k async for k in redis.scan_iter(match=f"arq:in-progress:{successors}")]
        return len(finished) + len(running)
    finally:
        await redis.aclose()


def report(args: argparse.Namespace, latencies: list[float], handovers: int) -> None:
    missed = sum(1 for value in latencies if value == float("inf"))
    seen = sorted(value for value in latencies if value != float("inf"))
    print(
        f"{len(latencies)} ledger objects, one every {args.interval:g} s; REST polled every {args.poll * 1000:g} ms; "
        f"live-tail budget {args.budget:g} s ({handovers} hand-overs between live-tail jobs during the run)"
    )
    if seen:
        print(
            f"object renamed into place -> rows served by REST: p50 {percentile(seen, 50) * 1000:.0f} ms, "
            f"p99 {percentile(seen, 99) * 1000:.0f} ms, max {seen[-1] * 1000:.0f} ms"
        )
    if missed:
        print(f"{missed} ledger(s) not served within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=30, help="ledger objects written (default 30)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between objects (default 2)")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between REST polls (default 0.02)")
    parser.add_argument(
        "--budget", type=float, default=15.0, help="live-tail job budget, seconds (default 15)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
