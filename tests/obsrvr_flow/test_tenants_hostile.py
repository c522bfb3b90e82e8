"""`tenants validate` and `tenants apply` on a hostile file (issue 12): invalid, naming each bad path, exit 1,
no traceback and nothing stored. In-process (typer's runner): the subprocess tests of tests/obsrvr_flow/
test_cli.py already cover the process around the same commands."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from obsrvr_flow.cli import app
from tests.api.helpers import sql
from tests.obsrvr_flow.test_cli import ACME


def test_a_nul_name_and_a_huge_rate_limit_are_invalid_for_validate_and_apply(
    migrated_env: dict[str, str], tmp_path: Path
) -> None:
    text = ACME.read_text().replace('name: "Acme Wallet"', 'name: "Acme\\0Wallet"')
    text = text.replace("rate_limit_per_minute: 1000 ", "rate_limit_per_minute: 9223372036854775807 ")
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(text)
    settings = {k: v for k, v in migrated_env.items() if k.startswith("OBSRVR_")}
    for command in ("validate", "apply"):
        result = CliRunner().invoke(app, ["tenants", command, str(hostile)], env=settings)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit), result.exception  # a clean exit, not a traceback
        assert "customer.name: contains a NUL character" in result.output
        assert "customer.api.rate_limit_per_minute: must be <= 1000000" in result.output
    assert sql(migrated_env["OBSRVR_DATABASE_URL"], "SELECT count(*) FROM tenants") == [(0,)]
