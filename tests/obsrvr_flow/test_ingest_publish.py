"""`obsrvr-flow ingest` with Redis publishes each committed batch on the tenant's channels under the prefix (so API
replicas' subscriptions get them); without Redis it publishes nothing and still ingests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from ingest.publish import channel
from ledgers.samples import write_sample_datastore
from storage.pubsub import RedisPubSub
from tests.conftest import REDIS_URL
from tests.obsrvr_flow.test_cli import ACME, run

GUARD_SECONDS = 120  # only ends a test whose CLI never published: no assertion depends on it


def _ingest(env: dict[str, str], folder: Path, last: int) -> Any:
    return run(
        "ingest", "--network", "pubnet", "--source", str(folder), "--from", "2", "--to", str(last),
        "--batch-size", "2", env=env,
    )  # fmt: skip


async def test_ingest_publishes_every_batch_on_redis(
    migrated_env: dict[str, str], redis_client: Any, redis_prefix: str, arq_cleanup: None, tmp_path: Path
) -> None:
    info = write_sample_datastore(tmp_path / "lake")
    env = {
        **migrated_env,
        "OBSRVR_REDIS_URL": REDIS_URL,
        "OBSRVR_REDIS_PREFIX": redis_prefix,
        "OBSRVR_QUEUE_NAME": redis_prefix + "queue",
    }
    assert run("tenants", "apply", str(ACME), env=env).returncode == 0
    pubsub = RedisPubSub(redis_client, redis_prefix + "pubsub:")
    covered: set[int] = set()
    async with pubsub.subscribe(channel("acme-wallet", "token_transfers")) as messages:
        cli = asyncio.create_task(asyncio.to_thread(_ingest, env, info.folder, info.last_ledger))

        async def collect() -> None:
            async for raw in messages:
                message = orjson.loads(raw)
                assert message["network"] == "pubnet"
                covered.update(range(message["first_ledger"], message["last_ledger"] + 1))
                if covered >= set(range(2, info.last_ledger + 1)):
                    return

        await asyncio.wait_for(collect(), GUARD_SECONDS)
        result = await cli
    assert result.returncode == 0, result.stderr
    assert covered == set(range(2, info.last_ledger + 1))
    await pubsub.close()


def test_ingest_without_redis_still_ingests(migrated_env: dict[str, str], tmp_path: Path) -> None:
    info = write_sample_datastore(tmp_path / "lake")
    assert run("tenants", "apply", str(ACME), env=migrated_env).returncode == 0
    result = _ingest(migrated_env, info.folder, info.last_ledger)
    assert result.returncode == 0, result.stderr
    assert f"ingested 6 ledgers (2-{info.last_ledger})" in result.stdout


def test_ingest_with_redis_unreachable_warns_and_ingests(
    migrated_env: dict[str, str], tmp_path: Path
) -> None:
    info = write_sample_datastore(tmp_path / "lake")
    env = {**migrated_env, "OBSRVR_REDIS_URL": "redis://127.0.0.1:9/0"}  # the discard port: nothing listens
    assert run("tenants", "apply", str(ACME), env=env).returncode == 0
    result = _ingest(env, info.folder, info.last_ledger)
    assert result.returncode == 0, result.stderr
    assert "ingesting without publishing" in result.stderr
    assert f"ingested 6 ledgers (2-{info.last_ledger})" in result.stdout
