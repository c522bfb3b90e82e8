"""`tenants validate` and `tenants apply` on a hostile file (issue 12): invalid, naming each bad path, exit 1,
no traceback and nothing stored."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import sql
from tests.obsrvr_flow.test_cli import ACME, run


def test_a_nul_name_and_a_huge_rate_limit_are_invalid_for_validate_and_apply(
    migrated_env: dict[str, str], tmp_path: Path
) -> None:
    text = ACME.read_text().replace('name: "Acme Wallet"', 'name: "Acme\\0Wallet"')
    text = text.replace("rate_limit_per_minute: 1000 ", "rate_limit_per_minute: 9223372036854775807 ")
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(text)
    for command in ("validate", "apply"):
        result = run("tenants", command, str(hostile), env=migrated_env)
        assert result.returncode == 1, result.stdout
        assert "Traceback" not in result.stderr, result.stderr
        assert "customer.name: contains a NUL character" in result.stderr
        assert "customer.api.rate_limit_per_minute: must be <= 1000000" in result.stderr
    assert sql(migrated_env["OBSRVR_DATABASE_URL"], "SELECT count(*) FROM tenants") == [(0,)]
