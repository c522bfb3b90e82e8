"""GraphiQL served offline (`api.graphiql`): the page and its assets come from the service, the page works in
Chromium against the real `obsrvr-flow dev` with every non-loopback request blocked (key asked once, queries and
the subscription's connection_init carry it, the tenant's fields are listed, live rows arrive), and without the
built assets the server still answers, saying how to build them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from api import graphiql
from core.ids import OrderKey
from tests.obsrvr_flow.test_cli import ACME
from tests.servers import free_port, spawn_cli, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("graphiql_browser.mjs")
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PAGE = "/api/v1/acme-wallet/graphql"
HTML = {"Accept": "text/html"}
SUBSCRIPTION = "subscription { onTokenTransfer { id amount } }"
LEDGERS_SHOWN = 2  # the result pane must show rows of this many new ledgers, one after the other
WAIT_SECONDS = 90  # guards against a server that never comes up; nothing is asserted about time


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The built assets: absent Node.js/npm skip (saying so); with them, the assets must be built (`make web`)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: GraphiQL's assets cannot be built here (make web)")
    if not graphiql.built():
        pytest.fail(f"GraphiQL's assets are not built in {graphiql.BUNDLE}: run `make web` (CI does)")
    return graphiql.BUNDLE


def test_without_the_assets_the_page_says_how_to_build_them(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(graphiql, "BUNDLE", tmp_path)
    page = client.get(PAGE, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "GraphiQL is not built" in page.text and "make web" in page.text
    assert "<script" not in page.text
    missing = client.get(f"{graphiql.ASSETS_PATH}/graphiql.js")
    assert missing.status_code == 404 and "make web" in missing.json()["error"]["message"]


def test_the_page_and_its_assets_come_from_the_service(client: TestClient, bundle: Path) -> None:
    page = client.get(PAGE, headers=HTML)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # Only the service's own assets: no CDN, no absolute URL at all.
    assert f'src="{graphiql.ASSETS_PATH}/graphiql.js"' in page.text and "//" not in page.text.replace(
        "<!--", ""
    )
    for name, media in (("graphiql.js", "text/javascript"), ("graphiql.css", "text/css")):
        asset = client.get(f"{graphiql.ASSETS_PATH}/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        assert asset.content == (bundle / name).read_bytes()
    assert client.get(f"{graphiql.ASSETS_PATH}/..%2Fdocs.js").status_code == 404
    assert client.get(f"{graphiql.ASSETS_PATH}/other.js").status_code == 404


def test_graphiql_in_chromium_offline_subscribes_to_the_live_server(bundle: Path, tmp_path: Path) -> None:
    """The real `obsrvr-flow dev` with its simulated network closing a ledger every second, and the page in
    Chromium with nothing but loopback reachable: the key asked once opens GraphiQL, the welcome text lists the
    tenant's queries and subscriptions, a query answers, and `onTokenTransfer` run from the page shows rows of
    ledgers closed after it subscribed, pushed over the page's own WebSocket (key in connection_init, accepted)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    if not (ROOT / "node_modules/playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run `make web` (npm ci)")
    port, log = free_port(), tmp_path / "dev.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    process = spawn_cli(
        ["dev", "--ledger-seconds", "1", "--port", str(port), "--tenant-file", str(ACME)],
        {**env, "COLUMNS": "200"},
        log,
        tmp_path,  # dev keeps its database and the simulated network's ledgers in .obsrvr-flow/ there
    )
    shots = Path(os.environ.get("OBSRVR_TEST_SCREENSHOTS", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        key = wait_until(lambda: _key(log), WAIT_SECONDS, "dev's banner", details=log.read_text)
        url = f"http://127.0.0.1:{port}{PAGE}"
        wait_until(lambda: _serving(url), WAIT_SECONDS, "dev to serve", details=log.read_text)
        result = subprocess.run(  # noqa: S603 - our own driver
            ["node", str(DRIVER), url, key, str(shots), SUBSCRIPTION, str(LEDGERS_SHOWN)],  # noqa: S607 - node from PATH, as make web uses it
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        process.terminate()
        stop_process(process)
    print(f"GraphiQL screenshots: {shots}")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert "failure" not in report, (report.get("failure"), log.read_text(errors="replace")[-4000:])
    assert report["blocked"] == [] and report["consoleErrors"] == [], report
    assert "refused" in report["refused"]
    assert "queries: tokenTransfers" in report["bar"] and "subscriptions: onTokenTransfer" in report["bar"]
    welcome = report["welcome"]
    assert "acme-wallet" in welcome and "tokenTransfers" in welcome
    subscriptions = welcome.split("# Subscriptions")[1].split("#\n")[0]
    for field in ("onTokenTransfer", "onContractEvent", "onAccountBalance", "onDexTrade", "onContractData"):
        assert field in subscriptions, welcome
    # GraphiQL's editor shows about 52 characters at 1280 pixels: no line of the welcome text is cut off.
    assert max(map(len, welcome.splitlines())) <= 50, welcome
    assert '"cursor"' in report["queryResult"]

    # One WebSocket, to this server's GraphQL path; the key went in connection_init and the server took it.
    [socket] = report["sockets"]
    assert socket["url"] == f"ws://127.0.0.1:{port}{PAGE}"
    init, subscribe = socket["sent"][:2]
    assert init == {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
    assert subscribe["type"] == "subscribe" and subscribe["payload"]["query"] == SUBSCRIPTION
    assert socket["received"][0] == {"type": "connection_ack"}  # refused: a close with 4401 and no ack
    assert report["closes"] == []  # no close code at all while subscribed (4401, 4400, 4406, ...)
    pushed = socket["received"][1:]
    assert pushed and all(m["type"] == "next" and m["id"] == subscribe["id"] for m in pushed), pushed
    rows = [m["payload"]["data"]["onTokenTransfer"] for m in pushed]
    ids = [row["id"] for row in rows]
    assert ids == sorted(set(ids)) and all(set(row) == {"id", "amount"} for row in rows)
    # Live rows only: every one from a ledger closed after the page subscribed (`after` defaults to "now").
    latest = report["latestBeforeSubscribing"]
    assert latest > 0 and all(OrderKey.from_id(i).ledger_sequence > latest for i in ids), (latest, ids)
    # The result pane showed them as they came: rows of several ledgers, each one a row the server pushed.
    shown = report["shownIds"]
    assert (
        set(shown) <= set(ids) and len({OrderKey.from_id(i).ledger_sequence for i in shown}) >= LEDGERS_SHOWN
    )
    assert '"amount"' in report["subscriptionResult"]
    assert report["remembered"] is True


def _key(log: Path) -> str | None:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("api key")]
    return lines[-1].split()[-1] if lines else None


def _serving(url: str) -> bool:
    import httpx2 as httpx

    try:
        return httpx.get(url, headers=HTML, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
