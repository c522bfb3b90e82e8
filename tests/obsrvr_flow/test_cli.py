"""The `obsrvr-flow` command line, run as a real process against a real database."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import orjson

from core.tenant_config import parse_tenant_documents
from obsrvr_flow.service_commands import example_requests
from processors.registry import default_registry
from tests.cli_runner import CLI, run_cli

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "examples/tenants/acme-wallet.yaml"


def run(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI run to completion in a process of its own (forked from one that imported it, tests/cli_runner.py)."""
    return run_cli(list(args), env, cwd)


def test_validate_good_file(env: dict[str, str]) -> None:
    result = run("tenants", "validate", str(ACME), env=env)
    assert result.returncode == 0, result.stderr
    assert "acme-wallet" in result.stdout and "valid" in result.stdout


def test_validate_bad_file_names_the_path(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ACME.read_text().replace("rate_limit_per_minute: 1000", "rate_limit_per_minute: -5"))
    result = run("tenants", "validate", str(bad), env=env)
    assert result.returncode == 1
    assert "customer.api.rate_limit_per_minute" in result.stderr
    missing = run("tenants", "validate", str(tmp_path / "nope.yaml"), env=env)
    assert missing.returncode == 1 and "nope.yaml" in missing.stderr


def test_commands_refuse_an_unmigrated_database(env: dict[str, str]) -> None:
    result = run("tenants", "list", env=env)
    assert result.returncode == 1
    assert "obsrvr-flow migrate" in result.stderr


def test_bad_settings_are_a_clear_error(env: dict[str, str]) -> None:
    result = run("tenants", "list", env={**env, "OBSRVR_DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2
    assert "OBSRVR_DATABASE_URL" in result.stderr


def test_migrate_apply_keys_flow(env: dict[str, str]) -> None:
    assert run("migrate", env=env).returncode == 0
    applied = run("tenants", "apply", str(ACME), env=env)
    assert applied.returncode == 0, applied.stderr
    first_key = applied.stdout.strip().splitlines()[-1]
    assert first_key.startswith("ofk_")

    again = run("tenants", "apply", str(ACME), env=env)
    assert again.returncode == 0 and "config version 2" in again.stdout
    assert "ofk_" not in again.stdout  # an update issues no key

    created = run("keys", "create", "acme-wallet", "--scope", "read:token_transfers", env=env)
    assert created.returncode == 0, created.stderr
    new_key = created.stdout.strip().splitlines()[-1]
    assert new_key.startswith("ofk_") and new_key != first_key

    listed = run("keys", "list", "acme-wallet", env=env)
    assert new_key[:12] in listed.stdout and new_key not in listed.stdout
    key_id = next(line.split("\t")[0] for line in listed.stdout.splitlines() if new_key[:12] in line)
    revoked = run("keys", "revoke", "acme-wallet", key_id, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert run("keys", "revoke", "acme-wallet", key_id, env=env).returncode == 1

    assert "acme-wallet" in run("tenants", "list", env=env).stdout
    bad_scope = run("keys", "create", "acme-wallet", "--scope", "write:all", env=env)
    assert bad_scope.returncode == 1 and "unknown scope" in bad_scope.stderr
    nobody = run("keys", "create", "nobody", env=env)
    assert nobody.returncode == 1 and "no tenant" in nobody.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dev_serves_and_onboards_demo_tenant(tmp_path: Path) -> None:
    """`obsrvr-flow dev` in an empty folder: SQLite under .obsrvr-flow/, the demo tenant, a working key."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [*CLI, "dev", "--port", str(port), "--tenant-file", str(ACME)],
        cwd=tmp_path,
        env={**clean, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        ready = None
        for _ in range(150):
            try:
                ready = httpx.get(f"{base}/readyz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, ready.text if ready else "dev never served"
        assert (tmp_path / ".obsrvr-flow/obsrvr-flow.db").exists()
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "sample ledgers 2-7 ingested" in output, output
    # dev logs as text (OBSRVR_LOG_FORMAT unset), our access line instead of uvicorn's.
    assert re.search(r" INFO obsrvr_flow\.access \[[0-9a-f]{32}\] GET /readyz 200 ", output), output
    key = next(line.split()[-1] for line in output.splitlines() if line.startswith("api key"))
    assert key.startswith("ofk_")
    assert f"curl -H 'Authorization: Bearer {key}' {base}/api/v1/acme-wallet/" in output

    # The printed key works against a second run on the same database (keys persist).
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603
        [*CLI, "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**clean},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(150):
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/acme-wallet/",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=1,
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json()["customer_id"] == "acme-wallet"
        # A new user's first REST and GraphQL requests return rows (the sample ledgers, on SQLite).
        auth = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{port}/api/v1/acme-wallet"
        # The requests `dev` prints for the demo tenant, built from its processors.
        (config,) = parse_tenant_documents(ACME.read_text(), default_registry().catalogue())
        rest_path, graphql_body = example_requests(default_registry(), config)
        assert rest_path == "/token-transfers" and graphql_body is not None
        rest = httpx.get(f"{base}{rest_path}", params={"limit": 5}, headers=auth, timeout=10).json()
        assert len(rest["data"]) == 5 and rest["metadata"]["next_cursor"]
        graphql = httpx.post(
            f"{base}/graphql", json=orjson.loads(graphql_body), headers=auth, timeout=10
        ).json()
        edges = graphql["data"]["tokenTransfers"]["edges"]
        assert [e["node"]["id"] for e in edges] == [r["id"] for r in rest["data"]]
    finally:
        proc.terminate()
        _, logged = proc.communicate(timeout=30)
    # serve logs JSON by default (every line of its stderr parses): one access line per request, with its rows.
    access = [
        line for line in map(orjson.loads, logged.splitlines()) if line["logger"] == "obsrvr_flow.access"
    ]
    assert [(line["route"], line["rows"]) for line in access if line["status"] == 200][-2:] == [
        ("/api/v1/{customer_id}/token-transfers", 5),
        ("/api/v1/{customer_id}/graphql", 5),
    ]

    # The demo tenant has rows from the sample ledgers.
    exported = run(
        "export", "--tenant", "acme-wallet", "--processor", "token_transfers", env=clean, cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    rows = [orjson.loads(line) for line in exported.stdout.splitlines()]
    assert {row["event_type"] for row in rows} >= {"fee", "transfer", "mint", "burn"}
