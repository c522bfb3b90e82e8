"""`obsrvr-flow archive` refuses bad input with a clear message and nothing archived: a `--before` that is neither a
ledger nor a time (usage error, exit 2), an unknown tenant or a processor the tenant does not enable (exit 1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.api.helpers import sql
from tests.obsrvr_flow.test_cli import run
from tests.services.tiers import TENANT, document, load


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
