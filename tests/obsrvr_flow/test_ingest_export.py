"""`obsrvr-flow ingest` and `export` on the 20 real mainnet ledgers: ingesting twice (the second time with a
process pool) gives identical exports, in every format, and so does archiving them to the cold tier."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from tests.obsrvr_flow.test_cli import ACME, run

FIRST, LAST = 63092982, 63093001


pytestmark = pytest.mark.heavy(100)


def test_ingest_twice_gives_identical_exports(
    migrated_env: dict[str, str], shared_ledgers: Path, tmp_path: Path
) -> None:
    env = {**migrated_env, "OBSRVR_COLD_URL": str(tmp_path / "cold")}
    assert run("tenants", "apply", str(ACME), env=env).returncode == 0
    source = str(shared_ledgers / "wallet-backend")

    def ingest(*extra: str) -> None:
        result = run(
            "ingest",
            "--network",
            "pubnet",
            "--source",
            source,
            "--from",
            str(FIRST),
            "--to",
            str(LAST),
            *extra,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert f"ingested 20 ledgers ({FIRST}-{LAST})" in result.stdout

    def export(processor: str, fmt: str = "jsonl") -> bytes:
        out = tmp_path / f"{processor}.{fmt}"
        result = run(
            "export",
            "--tenant",
            "acme-wallet",
            "--processor",
            processor,
            "--format",
            fmt,
            "--out",
            str(out),
            env=env,
        )
        assert result.returncode == 0, result.stderr
        return out.read_bytes()

    ingest("--processes", "1")
    first = {name: export(name) for name in ("token_transfers", "contract_events")}
    ingest("--processes", "2", "--batch-size", "3")
    second = {name: export(name) for name in ("token_transfers", "contract_events")}
    assert first == second

    rows = [orjson.loads(line) for line in first["token_transfers"].splitlines()]
    assert rows and [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert {r["ledger_sequence"] for r in rows} == set(range(FIRST, LAST + 1))
    assert all("tenant_id" not in r for r in rows)

    # The same rows in CSV and Parquet.
    table = pq.read_table(io.BytesIO(export("token_transfers", "parquet")))
    assert table.column("id").to_pylist() == [r["id"] for r in rows]
    assert table.column("amount_raw").to_pylist() == [r["amount_raw"] for r in rows]
    assert all(isinstance(r["amount_raw"], str) for r in rows)  # amounts are strings in every format
    events = pq.read_table(io.BytesIO(export("contract_events", "parquet")))
    assert events.num_rows == len(first["contract_events"].splitlines())
    reader = list(csv.DictReader(io.StringIO(export("token_transfers", "csv").decode())))
    assert [r["id"] for r in reader] == [r["id"] for r in rows]

    window = run(
        "export",
        "--tenant",
        "acme-wallet",
        "--processor",
        "token_transfers",
        "--from",
        str(FIRST + 1),
        "--to",
        str(FIRST + 1),
        env=env,
    )
    assert {orjson.loads(line)["ledger_sequence"] for line in window.stdout.splitlines()} == {FIRST + 1}

    # Archived up to the middle of the range, then wholly: the export reads both tiers and does not change.
    for before in (FIRST + 10, None):
        archive(env, tmp_path / "cold", before)
        assert {name: export(name) for name in ("token_transfers", "contract_events")} == first


def archive(env: dict[str, str], cold: Path, before_ledger: int | None) -> None:
    from processors.registry import default_registry
    from storage.cold.archival import ArchiveCut, archive_table
    from storage.cold.store import ColdStore
    from storage.db import create_engine

    async def work() -> None:
        engine = create_engine(env["OBSRVR_DATABASE_URL"])
        try:
            for name in ("token_transfers", "contract_events"):
                await archive_table(
                    engine,
                    ColdStore.open(str(cold)),
                    tenant_id="acme-wallet",
                    processor=name,
                    table=default_registry().by_name(name).archive[0],
                    cut=ArchiveCut(before_ledger=before_ledger),
                )
        finally:
            await engine.dispose()

    asyncio.run(work())


def test_ingest_refuses_bad_arguments(migrated_env: dict[str, str], tmp_path: Path) -> None:
    env = migrated_env
    no_source = run("ingest", "--network", "pubnet", "--from", "5", "--to", "6", env=env)
    assert no_source.returncode == 2 and "OBSRVR_PUBNET_SOURCE" in no_source.stderr
    backwards = run(
        "ingest", "--network", "pubnet", "--source", str(tmp_path), "--from", "9", "--to", "3", env=env
    )
    assert backwards.returncode == 2 and "--to" in backwards.stderr
    nobody = run(
        "ingest", "--network", "pubnet", "--source", str(tmp_path), "--from", "3", "--to", "4", env=env
    )
    assert nobody.returncode == 1 and "no tenant" in nobody.stderr
    bad_format = run("export", "--tenant", "x", "--processor", "token_transfers", "--format", "xml", env=env)
    assert bad_format.returncode == 2 and "jsonl" in bad_format.stderr


def test_ingest_records_webhook_messages_with_the_rows(
    migrated_env: dict[str, str], migrated_pg: str, shared_ledgers: Path
) -> None:
    """`obsrvr-flow ingest` records the messages of an existing endpoint in its batches (a server sends them)."""
    from sqlalchemy import func, select

    from storage.db import create_engine
    from storage.webhooks.tables import webhook_messages
    from tests.services.webhook_data import TRANSFERS, add_endpoint

    assert run("tenants", "apply", str(ACME), env=migrated_env).returncode == 0

    async def count(statement: object) -> int:
        engine = create_engine(migrated_pg)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(statement)).scalar_one())  # type: ignore[call-overload]
        finally:
            await engine.dispose()

    async def endpoint() -> None:
        engine = create_engine(migrated_pg)
        try:
            await add_endpoint(engine, "ep_cli", ["token_transfer"], tenant="acme-wallet")
        finally:
            await engine.dispose()

    asyncio.run(endpoint())
    last = FIRST + 2
    result = run(
        "ingest", "--network", "pubnet", "--source", str(shared_ledgers / "wallet-backend"),
        "--from", str(FIRST), "--to", str(last), env=migrated_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    transfers = asyncio.run(
        count(select(func.count()).select_from(TRANSFERS).where(TRANSFERS.c.tenant_id == "acme-wallet"))
    )
    recorded = asyncio.run(
        count(
            select(func.count())
            .select_from(webhook_messages)
            .where(webhook_messages.c.endpoint_id == "ep_cli")
        )
    )
    assert transfers > 0 and recorded == transfers
