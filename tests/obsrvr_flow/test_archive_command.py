"""`obsrvr-flow archive` refuses bad input with a clear message and nothing archived: a `--before` that is neither a
ledger nor a time (usage error, exit 2), an unknown tenant or a processor the tenant does not enable (exit 1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.api.helpers import sql
from tests.obsrvr_flow.test_cli import run
from tests.services.tiers import FIRST, TENANT, document, load


def test_bad_input_is_refused_naming_it(migrated_env: dict[str, str], tmp_path: Path) -> None:
    url = migrated_env["OBSRVR_DATABASE_URL"]
    doc = document()
    doc["customer"]["processors"] = [{"type": "TokenTransferProcessor", "enabled": True, "config": {}}]
    asyncio.run(load(url, Path("/nonexistent"), migrated_env["OBSRVR_KEY_PEPPER"], doc, count=0))
    env = {**migrated_env, "OBSRVR_COLD_URL": str(tmp_path / "cold")}

    bad_time = run("archive", "--tenant", TENANT, "--before", "last tuesday", env=env)
    assert bad_time.returncode == 2 and "--before" in bad_time.stderr and "ISO-8601" in bad_time.stderr
    unknown = run("archive", "--tenant", "no-such-tenant", env=env)
    assert unknown.returncode == 1 and "no tenant 'no-such-tenant'" in unknown.stderr
    disabled = run("archive", "--tenant", TENANT, "--processor", "dex_trades", env=env)
    assert disabled.returncode == 1 and "'dex_trades' is not enabled" in disabled.stderr
    assert sql(url, "SELECT count(*) FROM archive_watermarks")[0][0] == 0

    nothing = run("archive", "--tenant", TENANT, "--before", "2020-01-01", env=env)
    assert nothing.returncode == 0, nothing.stderr
    assert "token_transfers.token_transfers: 0 files, 0 rows archived" in nothing.stdout


def test_an_unwritable_cold_store_is_one_line_and_exit_1(
    migrated_env: dict[str, str], shared_ledgers: Path, tmp_path: Path
) -> None:
    """The cold folder replaced by a file after a first archival: `archive` (writing) and `tenants delete`
    (deleting the tenant's files) say so in one line (no traceback) and exit 1; no hot row is deleted."""
    url = migrated_env["OBSRVR_DATABASE_URL"]
    doc = document()
    doc["customer"]["processors"] = [{"type": "TokenTransferProcessor", "enabled": True, "config": {}}]
    asyncio.run(load(url, shared_ledgers, migrated_env["OBSRVR_KEY_PEPPER"], doc, count=4))
    cold = tmp_path / "cold"
    env = {**migrated_env, "OBSRVR_COLD_URL": str(cold)}
    first = run("archive", "--tenant", TENANT, "--before", str(FIRST + 2), env=env)
    assert first.returncode == 0, first.stderr
    cold.rename(tmp_path / "cold-moved")
    cold.write_text("not a folder")
    rows = sql(url, "SELECT count(*) FROM token_transfers")[0][0]
    assert rows > 0

    for args in (("archive", "--tenant", TENANT, "--before", "4000000000"), ("tenants", "delete", TENANT)):
        failed = run(*args, env=env)
        assert failed.returncode == 1, (args, failed.stdout, failed.stderr)
        assert "Traceback" not in failed.stderr, failed.stderr
        lines = [line for line in failed.stderr.splitlines() if "cold store" in line]
        assert len(lines) == 1, failed.stderr
        if args[0] == "archive":  # the purge deletes hot rows before cold files, by design
            assert sql(url, "SELECT count(*) FROM token_transfers")[0][0] == rows
    assert sql(url, "SELECT finished_at FROM tenant_purges WHERE tenant_id = :t", t=TENANT) == [(None,)]
