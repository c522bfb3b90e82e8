// GraphiQL in Chromium against a real, live server (`obsrvr-flow dev`), through the harness (every non-loopback
// request blocked and counted, console errors collected). Usage: node graphiql.mjs <graphql page URL> <api key>
// <screenshot folder> <subscription> <ledgers>; prints one JSON object. The frames and close codes of the page's
// WebSocket are recorded as the page saw them, so the test checks what the server accepted.
import { session } from "./harness.mjs";

const [url, apiKey, shots, subscription, wantedLedgers] = process.argv.slice(2);
const ROW_ID = /"id": "(\d{19}-\d{10})"/;

// Runs in the page before its scripts (after playwright's WebSocket route): remembers every close code the page's
// sockets get, which playwright's own WebSocket events do not report.
function recordCloses() {
  const Native = window.WebSocket;
  window.__ofCloses = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("close", (event) => window.__ofCloses.push({ code: event.code, reason: event.reason }));
    }
  };
}

await session(shots, async ({ context, page: open, shot, report }) => {
  report.sockets = [];
  report.shownIds = [];
  await context.addInitScript(recordCloses);
  const page = await open("graphiql");
  page.on("websocket", (ws) => {
    const socket = { url: ws.url(), sent: [], received: [] };
    report.sockets.push(socket);
    ws.on("framesent", (frame) => socket.sent.push(JSON.parse(String(frame.payload))));
    ws.on("framereceived", (frame) => socket.received.push(JSON.parse(String(frame.payload))));
  });

  await page.goto(url);
  await page.getByLabel("API key").waitFor();
  await shot(page, "graphiql-key");
  await page.getByLabel("API key").fill("ofk_not_a_key");
  await page.getByRole("button", { name: "Open GraphiQL" }).click();
  report.refused = await page.getByRole("alert").innerText();
  // The refused key's 401 is the only error expected in the console: counted apart from the rest.
  report.refusedConsoleErrors = report.consoleErrors.graphiql.splice(0);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Open GraphiQL" }).click();
  await page.locator(".of-bar").waitFor();
  report.bar = await page.locator(".of-bar").innerText();
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
  report.welcome = await page.evaluate(
    () => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue(),
  );
  await shot(page, "graphiql-welcome");
  await page.locator(".graphiql-execute-button").click();
  await page.locator(".result-window").getByText('"cursor"').first().waitFor();
  report.queryResult = await page.locator(".result-window").innerText();
  await shot(page, "graphiql-query");

  await page.evaluate(
    (text) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(text),
    subscription,
  );
  // GraphiQL parses the edited document after a short debounce, storing the query at the same moment: run it
  // once that happened, or the previous document's operation type would choose the transport.
  await page.waitForFunction((text) => localStorage.getItem("graphiql:query") === text, subscription);
  // The tenant's latest ledger just before subscribing: every row pushed must come from a later ledger.
  report.latestBeforeSubscribing = await page.evaluate(
    async ([path, key]) => {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      return Number(response.headers.get("Latest-Ledger"));
    },
    [new URL(url).pathname, apiKey],
  );
  await page.locator(".graphiql-execute-button").click();
  // GraphiQL shows the latest pushed row: watch the pane until it has shown rows of `wantedLedgers` ledgers (a
  // ledger's rows arrive together, so the pane may skip some of them; the frames hold them all).
  const ledgerOf = (id) => String(BigInt(id.split("-")[0]) >> 32n);
  while (new Set(report.shownIds.map(ledgerOf)).size < Number(wantedLedgers)) {
    const shown = await page.waitForFunction(
      ([pattern, seen]) => {
        const text = document.querySelector(".result-window")?.innerText || "";
        const fresh = [...text.matchAll(new RegExp(pattern, "g"))].map((m) => m[1]).filter((id) => !seen.includes(id));
        return fresh.length ? [...new Set(fresh)] : null;
      },
      [ROW_ID.source, report.shownIds],
    );
    report.shownIds.push(...(await shown.jsonValue()));
  }
  report.subscriptionResult = await page.locator(".result-window").innerText();
  await shot(page, "graphiql-subscription");
  report.closes = await page.evaluate(() => window.__ofCloses);

  // The key is remembered: a new visit goes straight to GraphiQL.
  await page.reload();
  await page.locator(".of-bar").waitFor();
  report.remembered = true;
});
