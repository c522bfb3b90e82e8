"""`obsrvr-flow dev` keeps producing sample ledgers and ingests them as they appear (the real CLI process); a
restart continues the chain and the tail with no gap; `--no-live` produces nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import httpx2 as httpx

from ledgers.samples.network import SimulatedNetwork
from processors.registry import default_registry
from tests.obsrvr_flow.test_cli import ACME
from tests.servers import free_port, spawn_cli, stop_process, wait_until

WAIT_SECONDS = 90  # a guard against a run that never gets there, not a measured expectation
SAMPLES_LAST = 7  # the scripted sample ledgers are 2-7


def _env(**settings: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    return {**clean, "COLUMNS": "200", **settings}


def _dev(tmp_path: Path, port: int, log: Path, *extra: str, **settings: str) -> subprocess.Popen[bytes]:
    args = ["dev", "--port", str(port), "--tenant-file", str(ACME), *extra]
    return spawn_cli(
        args, _env(**settings), log, cwd=tmp_path
    )  # dev keeps .obsrvr-flow/ in its working directory


def _key(log: Path) -> str | None:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("api key")]
    return lines[-1].split()[-1] if lines else None


def _latest(port: int, key: str) -> int:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/acme-wallet/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=2,
        )
    except httpx.TransportError:
        return 0
    return int(response.headers.get("Latest-Ledger") or 0)


def _run_until(tmp_path: Path, name: str, ledger: int, *extra: str) -> tuple[int, str]:
    """Run dev until the tenant's latest ledger reaches `ledger`; stop it; (the latest ledger, its output)."""
    port, log = free_port(), tmp_path / f"{name}.log"
    process = _dev(tmp_path, port, log, *extra)
    try:
        key = wait_until(lambda: _key(log), WAIT_SECONDS, "the banner", details=log.read_text)
        reached = wait_until(
            lambda: (n := _latest(port, key)) >= ledger and n,
            WAIT_SECONDS,
            f"ledger {ledger}",
            details=log.read_text,
        )
    finally:
        process.terminate()
        stop_process(process)
    return reached, log.read_text(errors="replace")


def _ledgers_with_rows(tmp_path: Path) -> dict[str, set[int]]:
    """Per history table of the demo tenant's processors: the ledgers it holds rows of (hot store)."""
    tables = [
        table.name
        for processor in default_registry()
        for table in processor.tables
        if table.info.get("kind") == "history"
    ]
    with sqlite3.connect(tmp_path / ".obsrvr-flow/obsrvr-flow.db") as db:
        return {
            name: {row[0] for row in db.execute(f"SELECT DISTINCT ledger_sequence FROM {name}")}
            for name in tables
        }


def test_dev_keeps_ingesting_new_ledgers_and_resumes_after_a_restart(tmp_path: Path) -> None:
    first, output = _run_until(tmp_path, "first", SAMPLES_LAST + 3, "--ledger-seconds", "0.3")
    assert "a new sample ledger every 0.3 s after ledger 7" in output, output
    assert "subscription { onTokenTransfer { id " in output
    live = set(range(SAMPLES_LAST + 1, first + 1))
    rows = _ledgers_with_rows(tmp_path)
    # Every processor of the demo that has a history listing got rows from every new ledger.
    for table in ("token_transfers", "contract_events", "account_balances", "dex_trades", "contract_data"):
        assert live <= rows[table], (table, sorted(live - rows[table]))

    second, output = _run_until(tmp_path, "second", first + 3, "--ledger-seconds", "0.3")
    banner = next(line for line in output.splitlines() if line.startswith("live "))
    produced_before = int(banner.split("after ledger ")[1].split()[0])
    assert produced_before >= first  # the chain went on from the folder's newest ledger
    transfers = _ledgers_with_rows(tmp_path)["token_transfers"]
    assert set(range(SAMPLES_LAST + 1, second + 1)) <= transfers  # no ledger skipped across the restart


def test_dev_no_live_produces_nothing(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "dev.log"
    process = _dev(tmp_path, port, log, "--no-live")
    try:
        key = wait_until(lambda: _key(log), WAIT_SECONDS, "the banner", details=log.read_text)
        assert wait_until(lambda: _latest(port, key), WAIT_SECONDS, "the server") == SAMPLES_LAST
    finally:
        process.terminate()
        stop_process(process)
    output = log.read_text()
    assert "new sample ledger" not in output
    objects = list((tmp_path / ".obsrvr-flow/sample-ledgers").rglob("*.xdr.zst"))
    assert len(objects) == 6


def test_dev_with_a_pubnet_source_follows_it_instead_of_simulating(tmp_path: Path) -> None:
    lake = SimulatedNetwork.resume(tmp_path / "lake", seed=5)  # someone else's growing lake
    port, log = free_port(), tmp_path / "dev.log"
    process = _dev(tmp_path, port, log, OBSRVR_PUBNET_SOURCE=str(lake.folder))
    try:
        key = wait_until(lambda: _key(log), WAIT_SECONDS, "the banner", details=log.read_text)
        wait_until(lambda: _latest(port, key), WAIT_SECONDS, "the server", details=log.read_text)
        # The tail, started at the lake's tip, picks up what the lake's writer adds.
        for _ in range(3):
            lake.close_next()
        wait_until(
            lambda: _latest(port, key) >= lake.last_ledger,
            WAIT_SECONDS,
            "the lake's ledgers",
            details=log.read_text,
        )
    finally:
        process.terminate()
        stop_process(process)
    output = log.read_text()
    assert f"following {lake.folder} with the live tail" in output
    assert "new sample ledger" not in output
    assert (
        len(list((tmp_path / ".obsrvr-flow/sample-ledgers").rglob("*.xdr.zst"))) == 6
    )  # nothing simulated here
