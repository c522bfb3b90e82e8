"""`obsrvr-flow live set-start` and `live status`: the start waits for the tail; bad values exit 1 naming them."""

from __future__ import annotations

import asyncio
import json

from storage.checkpoints import Checkpoints
from storage.db import create_engine
from tests.obsrvr_flow.test_cli import run


async def _live_checkpoint(url: str, network: str, ledger: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await Checkpoints(engine).set(conn, f"live:{network}", network, ledger)
    finally:
        await engine.dispose()


def test_set_start_and_status(migrated_env: dict[str, str], migrated_pg: str) -> None:
    asyncio.run(_live_checkpoint(migrated_pg, "testnet", 40))
    refused = run("live", "set-start", "testnet", "1", env=migrated_env)
    assert refused.returncode == 1
    assert "ledger: must be an integer from 2 to 4294967295" in refused.stderr

    moved = run("live", "set-start", "testnet", "50", "--no-backfill", env=migrated_env)
    assert moved.returncode == 0, moved.stderr
    assert "goes on from ledger 50 (live checkpoint was 40" in moved.stdout
    assert "skips ledgers 41-49" in moved.stderr  # the warning
    status = run("live", "status", "testnet", env=migrated_env)
    assert json.loads(status.stdout) == {
        "network": "testnet",
        "live_ledger": 40,
        "latest_ledger": None,
        "pending_start": 50,
    }
