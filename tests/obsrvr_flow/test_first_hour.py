"""Issue 17 item 3 on the command line: help without type placeholders and with choices, errors without class
names, whole key ids off a terminal, `dev` refusing a busy port before doing anything, one demo key per tenant."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from core.served import SERVED
from obsrvr_flow.dev_keys import DEMO_KEY_NAME, demo_key, read_saved, write_saved
from storage.api_keys import ApiKeyStore
from storage.db import create_engine
from storage.tenants import TenantStore
from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples/tenants/acme-wallet.yaml"
PLACEHOLDER = re.compile(r"<(bool|str|int|float|path|int range|float range)>")


def run(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(list(args), env, cwd)


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["dev", "--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["ingest", "--help"],
        ["export", "--help"],
        ["archive", "--help"],
        ["tenants", "status", "--help"],
        ["tenants", "usage", "--help"],
        ["keys", "list", "--help"],
        ["webhooks", "add", "--help"],
    ],
)
def test_help_has_no_type_placeholders(command: list[str], env: dict[str, str]) -> None:
    result = run(*command, env=env)
    assert result.returncode == 0, result.stderr
    assert PLACEHOLDER.search(result.stdout) is None, result.stdout


def test_help_lists_choices(env: dict[str, str]) -> None:
    export = run("export", "--help", env=env).stdout
    assert "jsonl|csv|parquet" in export
    for listing in ("token_transfers", "account_balances_current", "contract_data_current", "dex_volume"):
        assert listing in export
    assert "pubnet|testnet" in run("ingest", "--help", env=env).stdout
    assert "table|json" in run("tenants", "usage", "--help", env=env).stdout
    archive = run("archive", "--help", env=env).stdout
    assert (
        "token_transfers" in archive and "account_balances_current" not in archive
    )  # archive takes processors


def test_serve_and_dev_help_say_what_is_served(env: dict[str, str]) -> None:
    for command in ("serve", "dev"):
        text = " ".join(run(command, "--help", env=env).stdout.split())
        for served in SERVED:
            assert f"{served.name}: {served.path}" in text, (command, served.name)
    worker = " ".join(run("worker", "--help", env=env).stdout.split())
    assert "serves none of the API" in worker and "webhook delivery" in worker


def test_errors_carry_no_class_name(migrated_env: dict[str, str]) -> None:
    for command in (
        ["tenants", "status", "nobody"],
        ["tenants", "usage", "nobody"],
        ["keys", "create", "nobody"],
    ):
        result = run(*command, env=migrated_env)
        assert result.returncode != 0
        assert "no tenant 'nobody'" in result.stderr
        assert "Error:" not in result.stderr.replace("error:", ""), (
            result.stderr
        )  # no FlowError:, NotFound:...


def test_keys_list_prints_whole_ids_off_a_terminal(migrated_env: dict[str, str]) -> None:
    applied = run("tenants", "apply", str(ACME), env=migrated_env)
    assert applied.returncode == 0, applied.stderr
    created = run(
        "keys",
        "create",
        "acme-wallet",
        "--name",
        "a-rather-long-key-name-for-a-narrow-table",
        env=migrated_env,
    )
    key_line = next(line for line in created.stdout.splitlines() if line.startswith("key "))
    key_id = key_line.split()[1]
    listed = run("keys", "list", "acme-wallet", env={**migrated_env, "COLUMNS": "40"})
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t") == ["id", "prefix", "name", "scopes", "created", "last used", "revoked"]
    ids = [line.split("\t")[0] for line in lines[1:]]
    assert key_id in ids
    revoked = run("keys", "revoke", "acme-wallet", key_id, env=migrated_env)  # the id, copied, works
    assert revoked.returncode == 0, revoked.stderr
    tenants = run("tenants", "list", env={**migrated_env, "COLUMNS": "40"}).stdout.splitlines()
    assert tenants[0].split("\t") == ["id", "name", "network", "config version", "updated"]
    assert tenants[1].split("\t")[:3] == ["acme-wallet", "Acme Wallet", "pubnet"]


def test_dev_refuses_a_busy_port_before_doing_anything(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        clean = {k: v for k, v in env.items() if not k.startswith("OBSRVR_")}
        result = run("dev", "--port", str(port), "--tenant-file", str(ACME), env=clean, cwd=tmp_path)
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert re.search(r"--port \d+ \(make dev PORT=\d+\)", result.stderr), result.stderr
    assert result.stdout == ""  # no banner
    assert not (tmp_path / ".obsrvr-flow").exists()  # nothing migrated, ingested or issued


def test_makefile_passes_port_to_dev() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    made = subprocess.run(  # noqa: S603 - make, dry run
        [make, "-n", "dev", "PORT=8001"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "obsrvr-flow dev --port 8001" in made.stdout
    assert "make dev PORT=8001" in (ROOT / "README.md").read_text()


async def test_dev_keeps_one_valid_demo_key(migrated_pg: str, tmp_path: Path) -> None:
    engine = create_engine(migrated_pg)
    try:
        tenants, keys = TenantStore(engine), ApiKeyStore(engine, "test-pepper")
        await tenants.create("demo", "Demo", "pubnet", {"customer": {"id": "demo"}})
        first = await demo_key(keys, "demo", None, None)
        assert await demo_key(keys, "demo", None, first) == first  # the saved key, reused while valid
        # A lost file: a new key, and the previous demo key stops working.
        second = await demo_key(keys, "demo", None, None)
        assert second != first and await keys.verify(first) is None and await keys.verify(second) is not None
        # A key that is not valid for this tenant (another database, a revoked key) is replaced.
        third = await demo_key(keys, "demo", None, first)
        assert third not in (first, second)
        active = [k for k in await keys.list("demo") if k.active and k.name == DEMO_KEY_NAME]
        assert len(active) == 1
        other = await keys.create("demo", ("read:*",), name="mine")  # keys people made are left alone
        await demo_key(keys, "demo", None, third)
        assert await keys.verify(other.secret) is not None
    finally:
        await engine.dispose()
    saved = tmp_path / "demo-keys.json"
    write_saved(saved, {"demo": third})
    assert read_saved(saved) == {"demo": third} and saved.stat().st_mode & 0o077 == 0
    saved.write_text("not json")
    assert read_saved(saved) == {}


def test_tenants_status_shows_ranges_ingested_by_ingest_in_80_columns(
    migrated_env: dict[str, str], tmp_path: Path
) -> None:
    from ledgers.samples import ensure_sample_datastore

    info = ensure_sample_datastore(tmp_path / "samples")
    assert (info.first_ledger, info.last_ledger) == (2, 7)
    assert run("tenants", "apply", str(ACME), env=migrated_env).returncode == 0

    def ingest(first: int, last: int) -> None:
        result = run(
            "ingest", "--network", "pubnet", "--source", str(tmp_path / "samples"),
            "--from", str(first), "--to", str(last), env=migrated_env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    def status() -> list[str]:
        result = run("tenants", "status", "acme-wallet", env={**migrated_env, "COLUMNS": "80"})
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert all(len(line.rstrip()) <= 80 for line in lines), result.stdout
        return lines

    ingest(2, 3)
    ingest(6, 7)
    lines = status()
    assert lines[0] == "network pubnet: latest ledger 7"
    assert lines[2].split() == ["processor", "ingested", "backfill", "ledgers", "per", "s", "ETA"]
    rows = {line.split()[0]: line for line in lines[4:] if line.strip()}
    # Every enabled processor of the demo tenant, with the two ranges `ingest` wrote.
    assert set(rows) >= {"token_transfers", "contract_events", "account_balances", "dex_volume"}
    assert all("2-3, 6-7" in row for row in rows.values())
    ingest(4, 5)
    assert all("2-7" in line for line in status()[4:] if line.strip())


# Listings the sample ledgers cannot fill, and why.
SAMPLES_LEAVE_EMPTY = {
    # The samples trade only in their first 30 seconds: no later trade passes a candle's end, so none closes.
    "dex_closed_candles",
}


def test_export_serves_every_listing_in_the_rest_listing_order(
    migrated_env: dict[str, str], tmp_path: Path
) -> None:
    import orjson
    from starlette.testclient import TestClient

    from api.rest_catalogue import enabled_routes
    from core.tenant_config import parse_tenant_documents
    from ledgers.samples import ensure_sample_datastore
    from obsrvr_flow.wiring import build_app
    from processors.registry import default_registry
    from storage.query import keyset_columns
    from tests.api.helpers import LOOPBACK, settings_for

    ensure_sample_datastore(tmp_path / "samples")
    applied = run("tenants", "apply", str(ACME), env=migrated_env)
    secret = applied.stdout.strip().splitlines()[-1]
    ingest = run(
        "ingest", "--network", "pubnet", "--source", str(tmp_path / "samples"), "--from", "2", "--to", "7",
        env=migrated_env,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    processors = default_registry()
    (config,) = parse_tenant_documents(ACME.read_text(), processors.catalogue())
    enabled = processors.enabled_names(config)
    listings = [listing for p, _ in processors.enabled(config) for listing in p.listings]
    assert {listing.kind for listing in listings} >= {"history", "current"}
    list_routes = {
        r.listing.name: r
        for r in enabled_routes(processors, enabled)
        if r.reading is None and not r.path_params
    }
    compared = []
    settings = settings_for(migrated_env["OBSRVR_DATABASE_URL"], key_pepper=migrated_env["OBSRVR_KEY_PEPPER"])
    with TestClient(build_app(settings), client=LOOPBACK) as client:
        for listing in listings:
            result = run("export", "--tenant", "acme-wallet", "--processor", listing.name, env=migrated_env)
            assert result.returncode == 0, (listing.name, result.stderr)
            exported = [orjson.loads(line) for line in result.stdout.splitlines()]
            if listing.name in SAMPLES_LEAVE_EMPTY:
                assert exported == [], listing.name  # exported (nothing), not refused
                continue
            assert exported, f"{listing.name}: no rows exported from the sample ledgers"
            keys = keyset_columns(listing.table)
            route = list_routes.get(listing.name)
            if route is None:
                continue
            served, cursor = [], None
            while True:
                params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
                page = client.get(
                    f"/api/v1/acme-wallet{route.path}",
                    params=params,
                    headers={"Authorization": f"Bearer {secret}"},
                ).json()
                assert "data" in page, (route.path, page)
                served += page["data"]
                cursor = page["metadata"]["next_cursor"]
                if not cursor:
                    break
            assert [[row[k] for k in keys] for row in exported] == [[row[k] for k in keys] for row in served]
            compared.append(listing.name)
    assert {"token_transfers", "dex_volume"} <= set(compared), compared
