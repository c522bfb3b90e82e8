"""Every page of the service in Chromium (issue 17), against one real `obsrvr-flow dev` whose simulated network
closes a ledger every second, with every request to a non-loopback address blocked and counted (none allowed) and
no console error on any page: the console (onboarding end to end, the demo tenant's dashboard after the sample
ledgers, the live feed), GraphiQL (a query and a subscription with the key) and the REST docs page (it fits a
1,280 px window). The drivers are `tests/browser/*.mjs` on one harness (`harness.mjs`); screenshots of each page
go to $OBSRVR_SCREENSHOTS (or a temporary folder), printed by every test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api import console, graphiql
from core.ids import OrderKey
from tests.obsrvr_flow.test_cli import ACME
from tests.servers import free_port, spawn_cli, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[1]
DRIVERS = Path(__file__).resolve().parent / "browser"  # the node scripts, one per page, on one harness
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
TENANT = "acme-wallet"
ADMIN_TOKEN = "browser-tests-admin-token"
HTML = {"Accept": "text/html"}
SUBSCRIPTION = "subscription { onTokenTransfer { id amount } }"
LEDGERS_SHOWN = 2  # GraphiQL's result pane must show rows of this many new ledgers, one after the other
WAIT_SECONDS = 90  # guards against a server that never comes up; nothing is asserted about time


@dataclass(frozen=True)
class Server:
    base: str
    key: str
    log: Path
    shots: Path
    webhook_url: str  # the demo tenant's webhook endpoint, added through the admin API; nothing listens there


def _ready() -> None:
    """Skip (saying why) where the browser or Node.js is missing; fail where `make web` did not run."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the pages' assets cannot be built here (make web)")
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")
    if not (ROOT / "node_modules/playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run `make web` (npm ci)")
    for name, built in (("GraphiQL", graphiql.built()), ("the console", console.built())):
        if not built:
            pytest.fail(f"{name}'s assets are not built: run `make web` (CI does)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _ready()
    folder = tmp_path_factory.mktemp("dev")
    port, log = free_port(), folder / "dev.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    env |= {"COLUMNS": "200", "OBSRVR_ADMIN_TOKEN": ADMIN_TOKEN}
    process = spawn_cli(
        ["dev", "--ledger-seconds", "1", "--port", str(port), "--tenant-file", str(ACME)],
        env,
        log,
        folder,  # dev keeps its database and the simulated network's ledgers in .obsrvr-flow/ there
    )
    shots = Path(os.environ.get("OBSRVR_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        key = wait_until(lambda: _key(log), WAIT_SECONDS, "dev's banner", details=log.read_text)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _serving(base + "/console"), WAIT_SECONDS, "dev to serve", details=log.read_text)
        yield Server(base, key, log, shots, _webhook_endpoint(base))
    finally:
        process.terminate()
        stop_process(process)


def _drive(server: Server, script: str, *args: str, refused_pages: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run a scenario script; on `refused_pages` the only console errors allowed are Chromium's own lines for
    responses of status 401 (the page asked with a wrong key on purpose), and there must be some."""
    result = subprocess.run(  # noqa: S603 - our own driver
        ["node", str(DRIVERS / script), *args],  # noqa: S607 - node from PATH, as make web uses it
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    print(f"screenshots of the pages: {server.shots}")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert "failure" not in report, (report["failure"], server.log.read_text(errors="replace")[-4000:])
    # Offline and clean: nothing asked of any other host, no console error on any page.
    assert report["blocked"] == [], report["blocked"]
    errors = report["consoleErrors"]
    assert all(lines == [] for page, lines in errors.items() if page not in refused_pages), errors
    for page in refused_pages:
        assert errors[page] and all("status of 401" in line for line in errors[page]), errors
    assert report["screenshots"] and all(Path(p).is_file() for p in report["screenshots"])
    return report


def test_console_onboarding_dashboard_and_live_feed(server: Server) -> None:
    new_tenant = "browser-co"
    report = _drive(
        server,
        "console.mjs",
        *(server.base, ADMIN_TOKEN, TENANT, server.key, str(server.shots), new_tenant),
        refused_pages=("wrong-key",),
    )
    # Onboarding: a form per processor of the catalogue, generated from its config schema, dependencies explained.
    assert (
        "TokenTransferProcessor" in report["processorForms"]
        and "DEXVolumeProcessor" in report["processorForms"]
    )
    assert any("DEXTradeProcessor" in note for note in report["requiresNotes"])
    assert "processor:TokenTransferProcessor.config.event_types" in report["transferFields"]
    # The bad value's problem next to its field, in the parser's words (path first, as the CLI prints it).
    assert report["fieldError"].startswith("customer.processors[0].config.min_amount: "), report["fieldError"]
    assert report["fieldError"] in report["summaryErrors"]
    # A derived processor without its base: the parser's problem next to that processor's checkbox.
    assert report["dependencyError"] == (
        "customer.processors[1].type: DEXVolumeProcessor requires DEXTradeProcessor (add it and enable it)"
    ), report["summaryErrors"]
    # The good config: the key, shown once, with the tenant's endpoint, GraphQL, OpenAPI and docs links.
    # "Check" validated the fixed config without creating the tenant; "Create tenant" then created it.
    assert report["summaryAfterCheck"] == "" and TENANT in report["tenantsAfterCheck"], report
    assert new_tenant not in report["tenantsAfterCheck"]
    assert report["newKey"].startswith("ofk_") and report["fieldErrorAfterFix"] is False
    paths = [link.split(":", 2)[2].split("/", 1)[1] for link in report["createdLinks"]]
    assert paths == [f"api/v1/{new_tenant}/{end}" for end in ("", "graphql", "openapi.json", "docs")]

    # The dashboard of the demo tenant (dev ingested the sample ledgers before serving): ranges and usage.
    rows = {row[0]: row for row in report["ingestion"]}
    stored = rows["TokenTransferProcessor"][report["ingestionHeaders"].index("ledgers of stored rows")]
    assert stored != "no rows yet", rows
    first, last = (int(n.replace(",", "")) for n in stored.split("\N{EN DASH}"))
    assert 0 < first <= last
    assert "latest ledger" in report["network"] and "lag behind the network" in report["network"]
    assert "Rows hot / cold" in report["usage"] and "Estimated monthly cost" in report["usage"]
    assert report["keys"] >= 1  # the admin token is in this tab too: the tenant's keys are listed
    assert report["sharedKey"] == server.key  # the item GraphiQL reads
    assert report["webhookRow"][1] == server.webhook_url and "token_transfer" in report["webhookRow"][2]
    assert report["deliveries"] and all(row[1] == "token_transfer" for row in report["deliveries"])
    assert all(row[5] != "delivered" for row in report["deliveries"]), report["deliveries"]  # nobody listens
    assert report["createdKeySecret"].startswith("ofk_")
    [revoked] = [row for row in report["keysAfter"] if "from-the-console" in row]
    assert "revoked" in revoked and not any(
        "revoked" in row for row in report["keysAfter"] if "initial" in row
    )

    # The live feed: rows of ledgers committed after it subscribed, counted in the chart.
    latest = report["latestBeforeFeed"]
    assert latest > 0 and report["feedRows"], report
    assert max(row["ledger"] for row in report["feedRows"]) > latest, (latest, report["feedRows"])
    assert all(OrderKey.from_id(row["id"]).ledger_sequence == row["ledger"] for row in report["feedRows"])
    # One bar per ledger seen, titled with its ledger and row count; the table's rows are among them.
    bars = {int(title.split()[1].rstrip(":")): int(title.split()[2]) for title in report["chartBars"]}
    assert len(bars) >= 3 and all(count > 0 for count in bars.values()), report["chartBars"]
    assert {row["ledger"] for row in report["feedRows"]} <= set(bars)
    print(f"a row of a new ledger shown {report['newRowAfterMs']} ms after asking (shared, loaded machine)")

    # The admin token alone: the new tenant's ingestion (its one processor) and its key, no live feed without a key.
    assert report["adminOnlyIngestion"] == ["TokenTransferProcessor"], report["adminOnlyIngestion"]
    assert report["adminOnlyKeys"] == 1
    assert "open the dashboard with its API key" in report["adminOnlyFeed"], report["adminOnlyFeed"]
    # A wrong key: the server's refusal, in its words, where the data would be; keys need the admin token.
    assert report["wrongKeyIngestion"].endswith("(HTTP 401)"), report["wrongKeyIngestion"]
    assert report["wrongKeyFeed"].endswith("(HTTP 401)"), report["wrongKeyFeed"]
    assert "needs the admin token" in report["wrongKeyKeys"], report["wrongKeyKeys"]
    # ... and the first tab's dashboard still uses the key it was opened with (the tabs share the saved key).
    assert report["firstTabAfterOtherKey"] == 200, report["firstTabAfterOtherKey"]
    # The saved key can be forgotten from the home page (GraphiQL reads the same item).
    assert report["keyBeforeForget"] == "ofk_not_a_key_of_anyone", report["keyBeforeForget"]
    assert report["keyAfterForget"] == "" and report["forgetDisabled"] is True
    assert report["storedAfterForget"] == [None, None], report["storedAfterForget"]


def test_graphiql_runs_a_query_and_a_subscription_with_the_key(server: Server) -> None:
    """The key asked once opens GraphiQL, the welcome text lists the tenant's queries and subscriptions, a query
    answers, and `onTokenTransfer` run from the page shows rows of ledgers closed after it subscribed, pushed over
    the page's own WebSocket (key in connection_init, accepted)."""
    url = f"{server.base}/api/v1/{TENANT}/graphql"
    report = _drive(
        server, "graphiql.mjs", url, server.key, str(server.shots), SUBSCRIPTION, str(LEDGERS_SHOWN)
    )
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
    assert socket["url"] == url.replace("http://", "ws://")
    init, subscribe = socket["sent"][:2]
    assert init == {"type": "connection_init", "payload": {"Authorization": f"Bearer {server.key}"}}
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


def test_the_docs_page_fits_a_1280_pixel_window(server: Server) -> None:
    report = _drive(server, "docs.mjs", f"{server.base}/api/v1/{TENANT}/docs", server.key, str(server.shots))
    assert report["operations"] > 0
    assert report["scrollWidth"] <= report["viewportWidth"] == 1280, report["scrollWidth"]


def _webhook_endpoint(base: str) -> str:
    """Add a webhook endpoint to the demo tenant whose receiver is down (a free loopback port): its deliveries fail
    and are retried, so the dashboard has a backlog and a delivery log to show."""
    import httpx2 as httpx

    url = f"http://127.0.0.1:{free_port()}/hook"
    # Adding an endpoint reads then writes one SQLite transaction while the live tail commits every second: the
    # store runs it again when SQLite refuses it (storage.db.retrying_write_conflicts), so one request is enough.
    created = httpx.post(
        f"{base}/admin/tenants/{TENANT}/webhooks",
        json={"url": url, "events": ["token_transfer"]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return url


def _key(log: Path) -> str | None:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("api key")]
    return lines[-1].split()[-1] if lines else None


def _serving(url: str) -> bool:
    import httpx2 as httpx

    try:
        return httpx.get(url, headers=HTML, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
