// Drives the GraphiQL page in Debian's Chromium with playwright-core (both installed by the project's own files:
// package.json, and apt for chromium), every request to a non-loopback address blocked and counted.
// Usage: node graphiql_browser.mjs <graphql page URL> <api key> <screenshot folder>; prints one JSON object.
// The subscription's WebSocket is answered in the browser (page.routeWebSocket) as a graphql-transport-ws server
// would, so the test sees exactly what the page sends in connection_init and that it shows the pushed row.
import { chromium } from "playwright-core";

const [url, apiKey, shots] = process.argv.slice(2);
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const report = { blocked: [], consoleErrors: [], wsInit: null, wsSubscribe: null };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.route("**/*", (route) => {
    const target = new URL(route.request().url());
    if (LOOPBACK.has(target.hostname)) return route.continue();
    report.blocked.push(target.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => report.consoleErrors.push(String(error)));
  await page.routeWebSocket(/.*/, (ws) => {
    const target = new URL(ws.url());
    if (!LOOPBACK.has(target.hostname)) {
      report.blocked.push(target.href);
      ws.close();
      return;
    }
    ws.onMessage((raw) => {
      const message = JSON.parse(String(raw));
      if (message.type === "connection_init") {
        report.wsInit = message.payload;
        ws.send(JSON.stringify({ type: "connection_ack" }));
      } else if (message.type === "subscribe") {
        report.wsSubscribe = message.payload;
        const row = { data: { onTokenTransfer: { id: "pushed-row-1" } }, extensions: { id: "pushed-row-1" } };
        ws.send(JSON.stringify({ id: message.id, type: "next", payload: row }));
      }
    });
  });

  await page.goto(url);
  await page.getByLabel("API key").waitFor();
  await page.screenshot({ path: `${shots}/graphiql-key.png` });
  await page.getByLabel("API key").fill("ofk_not_a_key");
  await page.getByRole("button", { name: "Open GraphiQL" }).click();
  report.refused = await page.getByRole("alert").innerText();
  // The refused key's 401 is the only error expected in the console: counted apart from the rest.
  report.refusedConsoleErrors = report.consoleErrors.splice(0);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Open GraphiQL" }).click();
  await page.locator(".of-bar").waitFor();
  report.bar = await page.locator(".of-bar").innerText();
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
  report.welcome = await page.evaluate(
    () => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.getValue(),
  );
  await page.locator(".graphiql-execute-button").click();
  await page.locator(".result-window").getByText('"cursor"').first().waitFor();
  report.queryResult = await page.locator(".result-window").innerText();
  await page.screenshot({ path: `${shots}/graphiql-query.png` });

  const subscription = "subscription { onTokenTransfer { id } }";
  await page.evaluate(
    (text) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(text),
    subscription,
  );
  // GraphiQL parses the edited document after a short debounce, storing the query at the same moment: run it
  // once that happened, or the previous document's operation type would choose the transport.
  await page.waitForFunction((text) => localStorage.getItem("graphiql:query") === text, subscription);
  await page.locator(".graphiql-execute-button").click();
  await page.locator(".result-window").getByText("pushed-row-1").first().waitFor();
  report.subscriptionResult = await page.locator(".result-window").innerText();
  await page.screenshot({ path: `${shots}/graphiql-subscription.png` });

  // The key is remembered: a new visit goes straight to GraphiQL.
  await page.reload();
  await page.locator(".of-bar").waitFor();
  report.remembered = true;
} catch (error) {
  report.failure = String(error);
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages.length) await pages[0].screenshot({ path: `${shots}/graphiql-failure.png` }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
