"""`obsrvr-flow webhooks ...` run as real processes on PostgreSQL, and `webhooks listen` receiving signed POSTs."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from services.webhooks.signing import new_secret, signature_header
from tests.cli_runner import run_cli
from tests.mainnet_data import FIRST, FULL, LAST, MainnetData
from tests.obsrvr_flow.conftest import _env
from tests.obsrvr_flow.test_cli import ACME, CLI, run
from tests.servers import wait_until

ACCOUNT = "GAEDTJ4PPEFVW5XV2S7LUXBEHNQMX5Q2GM562RJGOQG7GVCE5H3HIB4V"


def ok(*args: str, env: dict[str, str]) -> list[str]:
    result = run(*args, env=env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout.strip().splitlines()


def test_endpoint_lifecycle_and_errors(migrated_env: dict[str, str]) -> None:
    env = migrated_env
    applied = ok("tenants", "apply", str(ACME), env=env)
    assert applied[-1].startswith("ofk_")  # the API key stays alone on the last line
    created = next(line for line in applied if "webhook endpoint ep_cfg_" in line)
    assert ": created (https://customer.example/webhook)" in created
    config_secret = next(line for line in applied if "webhook secret" in line).split()[-1]
    assert config_secret.startswith("whsec_")
    again = ok("tenants", "apply", str(ACME), env=env)
    assert any(": unchanged" in line for line in again) and "whsec_" not in "\n".join(again)

    added = ok(
        "webhooks", "add", "acme-wallet", "--url", "https://93.184.216.34/hooks", "--event", "token_transfer",
        "--event", "large_payment", "--account", ACCOUNT, "--min-amount", "100", env=env,
    )  # fmt: skip
    secret = added[-1]
    assert secret.startswith("whsec_") and len(added[-1].split()) == 1
    endpoint_id = added[0].split()[1]
    assert endpoint_id.startswith("ep_")

    listed = "\n".join(ok("webhooks", "list", "acme-wallet", env=env))
    assert endpoint_id in listed and "ep_cfg_" in listed and "whsec_" not in listed
    shown = orjson.loads("\n".join(ok("webhooks", "show", endpoint_id, env=env)))
    assert shown["filter"] == {"accounts": [ACCOUNT], "min_amount": "100"}
    assert shown["events"] == ["token_transfer", "large_payment"] and "secret" not in shown
    assert shown["backlog"]["pending"] == 0

    rotated = ok("webhooks", "rotate", endpoint_id, env=env)
    assert rotated[-1].startswith("whsec_") and rotated[-1] != secret
    ed = ok("webhooks", "rotate", endpoint_id, "--signing", "ed25519", env=env)
    assert ed[-1].startswith("whsk_") and any("public key whpk_" in line for line in ed)
    assert "disabled" in ok("webhooks", "disable", endpoint_id, env=env)[-1]
    assert "enabled" in ok("webhooks", "enable", endpoint_id, env=env)[-1]
    ok("webhooks", "log", endpoint_id, env=env)
    ok("webhooks", "dead", endpoint_id, env=env)
    assert ok("webhooks", "replay", endpoint_id, "--since-ledger", "1", env=env) == [
        "0 messages put back to pending"
    ]

    for args, text in (
        (
            ("webhooks", "add", "acme-wallet", "--url", "https://93.184.216.34/", "--event", "nope"),
            "events[0]",
        ),
        (
            ("webhooks", "add", "acme-wallet", "--url", "https://10.1.2.3/", "--event", "token_transfer"),
            "non-public",
        ),
        (
            ("webhooks", "add", "acme-wallet", "--url", "http://93.184.216.34/", "--event", "token_transfer"),
            "https",
        ),
        (
            (
                "webhooks",
                "add",
                "acme-wallet",
                "--url",
                "https://93.184.216.34/",
                "--event",
                "token_transfer",
                "--filter",
                '{"colour": 1}',
            ),
            "filter.colour",
        ),
        (
            ("webhooks", "add", "nobody", "--url", "https://93.184.216.34/", "--event", "token_transfer"),
            "no tenant",
        ),
        (("webhooks", "show", "ep_missing"), "no webhook endpoint"),
        (("webhooks", "resend", endpoint_id, "msg_missing"), "no message"),
        (("webhooks", "replay", endpoint_id), "since_ledger"),
        (("webhooks", "log", endpoint_id, "--limit", "0"), "limit"),
    ):
        result = run(*args, env=env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert text in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr

    ok("webhooks", "remove", endpoint_id, env=env)
    assert run("webhooks", "show", endpoint_id, env=env).returncode == 1


def test_tenants_apply_keeps_the_config_endpoint_in_step(
    migrated_env: dict[str, str], tmp_path: Path
) -> None:
    env = migrated_env
    ok("tenants", "apply", str(ACME), env=env)
    moved = tmp_path / "moved.yaml"
    moved.write_text(
        ACME.read_text().replace("https://customer.example/webhook", "https://hooks.customer.example/v2")
    )
    updated = ok("tenants", "apply", str(moved), env=env)
    assert any(": updated (https://hooks.customer.example/v2)" in line for line in updated)
    assert "whsec_" not in "\n".join(updated)  # the secret stays, and is not shown again
    private = tmp_path / "private.yaml"
    private.write_text(ACME.read_text().replace("https://customer.example/webhook", "https://192.168.1.5/h"))
    refused = run("tenants", "apply", str(private), env=env)
    assert refused.returncode == 1 and "customer.api.webhook_url" in refused.stderr
    # Nothing was stored: applying the good file again is version 3 (1 created, 2 moved).
    assert "config version 3" in "\n".join(ok("tenants", "apply", str(moved), env=env))
    gone = tmp_path / "gone.yaml"
    gone.write_text(
        "\n".join(line for line in ACME.read_text().splitlines() if "webhook_url" not in line) + "\n"
    )
    removed = ok("tenants", "apply", str(gone), env=env)
    assert any(": removed" in line for line in removed)
    assert "ep_cfg_" not in "\n".join(ok("webhooks", "list", "acme-wallet", env=env))


def test_add_with_history_backfills_here_without_a_queue(mainnet_pg: MainnetData) -> None:
    """No Redis: `--since-ledger` records the history in the command; preview counts the same messages."""
    env = {**_env(mainnet_pg.url), "OBSRVR_WEBHOOK_ALLOW_PRIVATE": "true"}
    added = ok(
        "webhooks", "add", FULL, "--url", "http://127.0.0.1:9/hooks", "--event", "token_transfer",
        "--asset", "native", "--since-ledger", str(FIRST), env=env,
    )  # fmt: skip
    endpoint_id = added[0].split()[1]
    backfill = next(line for line in added if "backfill:" in line)
    matched = int(backfill.split("backfill:")[1].split()[0])
    assert matched > 0 and f"{matched} recorded" in backfill
    preview = orjson.loads(
        "\n".join(ok("webhooks", "preview", endpoint_id, "--from", str(FIRST), "--to", str(LAST), env=env))
    )
    assert preview["count"] == matched and len(preview["payloads"]) == 5
    shown = orjson.loads("\n".join(ok("webhooks", "show", endpoint_id, env=env)))
    assert shown["status"] == "enabled" and shown["backlog"]["pending"] == matched
    # A second backfill records nothing twice.
    ok("webhooks", "backfill", endpoint_id, "--from", str(FIRST), env=env)
    assert (
        orjson.loads("\n".join(ok("webhooks", "show", endpoint_id, env=env)))["backlog"]["pending"] == matched
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def listening(*options: str, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`webhooks listen` with `options` (on `port`, default a free one), and its URL once it accepts connections."""
    port = port or _free_port()
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [*CLI, "webhooks", "listen", "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def accepting() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(accepting, 30, "webhooks listen accepting connections")
        yield f"http://127.0.0.1:{port}/", proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def listener() -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """`webhooks listen` with a fresh HMAC secret."""
    secret, _ = new_secret("hmac")
    with listening("--secret", secret) as (url, proc):
        yield url, secret, proc


class Keys:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.previous_secret = None
        self.previous_expires_at = None


def test_listen_prints_verified_deliveries(listener: tuple[str, str, subprocess.Popen[str]]) -> None:
    url, secret, proc = listener
    body = orjson.dumps({"event_id": "msg_1", "event_type": "token_transfer", "data": {"amount": "5"}})

    def post(msg_id: str, signed_with: str, content: bytes = body) -> int:
        ts = int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": signature_header(Keys(signed_with), msg_id, ts, body, datetime.now(UTC)),
            "content-type": "application/json",
        }
        return httpx.post(url, content=content, headers=headers).status_code

    assert post("msg_1", secret) == 204
    assert post("msg_1", secret) == 204  # a retry: printed as a duplicate
    assert post("msg_2", new_secret("hmac")[0]) == 400  # another secret
    assert post("msg_3", secret, body + b" ") == 400  # the body changed
    proc.terminate()
    stdout, stderr = proc.communicate(timeout=10)
    lines = [orjson.loads(line) for line in stdout.splitlines()]
    assert lines == [
        {"webhook_id": "msg_1", "duplicate": False, "payload": orjson.loads(body)},
        {"webhook_id": "msg_1", "duplicate": True, "payload": orjson.loads(body)},
    ]
    assert "refused msg_2" in stderr and "refused msg_3" in stderr


def test_listen_verifies_ed25519_with_the_public_key() -> None:
    secret, public_key = new_secret("ed25519")
    assert public_key is not None
    with listening("--public-key", public_key) as (url, proc):
        ts = int(time.time())
        body = b'{"event_id":"msg_9"}'
        signature = signature_header(Keys(secret), "msg_9", ts, body, datetime.now(UTC))
        headers = {"webhook-id": "msg_9", "webhook-timestamp": str(ts), "webhook-signature": signature}
        assert httpx.post(url, content=body, headers=headers).status_code == 204
        old = {**headers, "webhook-timestamp": str(ts - 600)}
        assert httpx.post(url, content=body, headers=old).status_code == 400
        proc.terminate()
        stdout, _ = proc.communicate(timeout=10)
    assert [orjson.loads(line)["webhook_id"] for line in stdout.splitlines()] == ["msg_9"]


def test_listen_needs_a_secret_or_a_key() -> None:
    result = run_cli(["webhooks", "listen", "--port", "1"], dict(os.environ), timeout=60)
    assert result.returncode == 2 and "--secret" in result.stderr


def test_replayed_messages_reach_listen_again_with_their_ids(make_client: Any) -> None:
    """The app's own delivery sends an endpoint's messages to `webhooks listen`, which verifies them with the
    endpoint's secret; a replay sends them again with the same ids (printed as duplicates). The sweep is slowed
    to a minute: enabling and replaying wake the endpoint's delivery themselves."""
    from tests.api.helpers import ADMIN, onboard
    from tests.api.test_admin_webhooks import _record_messages

    client = make_client(webhook_allow_private=True, webhook_sweep_seconds=60)
    onboard(client)
    lines: list[dict[str, Any]] = []
    port = _free_port()
    created = client.post(
        "/admin/tenants/acme-wallet/webhooks",
        json={"url": f"http://127.0.0.1:{port}/", "events": ["token_transfer"]},
        headers=ADMIN,
    ).json()
    endpoint_id, secret = created["endpoint"]["id"], created["secret"]
    base = f"/admin/tenants/acme-wallet/webhooks/{endpoint_id}"
    assert client.post(f"{base}/disable", headers=ADMIN).status_code == 200
    url = client.app.state.flow.settings.database_url
    with listening("--secret", secret, port=port) as (_, proc):
        # Read the deliveries as they are printed; the listener accepts connections before anything is due.
        reader = threading.Thread(
            target=lambda: lines.extend(orjson.loads(line) for line in iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        ids = _record_messages(url, endpoint_id, datetime.now(UTC))
        assert client.post(f"{base}/enable", headers=ADMIN).status_code == 200
        # Two are pending: delivery sends them in id order.
        wait_until(lambda: len(lines) >= 2, 30, "the pending messages delivered to listen")
        assert [line["webhook_id"] for line in lines] == ids[2:]
        assert all(not line["duplicate"] for line in lines)
        # Printed by listen once it answered; recorded delivered once the app read that answer: a replay leaves
        # pending messages alone, so it waits for the record.
        wait_until(
            lambda: _delivered(url, endpoint_id) == 3,
            30,
            "the two deliveries recorded (one was delivered before)",
        )
        replayed = client.post(
            f"/admin/tenants/acme-wallet/webhooks/{endpoint_id}/replay",
            json={"since_ledger": 100},
            headers=ADMIN,
        )
        assert replayed.json() == {"replayed": 4}  # the delivered one, the dead one and the two just sent
        wait_until(lambda: len(lines) >= 6, 30, "the replayed messages delivered to listen")
        assert sorted(line["webhook_id"] for line in lines[2:]) == sorted(ids)
        assert {line["webhook_id"] for line in lines[2:] if line["duplicate"]} == set(ids[2:])
        assert [line["payload"] for line in lines if line["webhook_id"] == ids[1]] == [{"event_id": ids[1]}]


def _delivered(url: str, endpoint_id: str) -> int:
    from storage.webhooks.tables import DELIVERED
    from tests.api.helpers import sql

    query = "SELECT count(*) FROM webhook_messages WHERE endpoint_id = :e AND status = :s"
    return int(sql(url, query, e=endpoint_id, s=DELIVERED)[0][0])
