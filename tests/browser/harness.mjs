// The browser test harness: Debian's Chromium driven by playwright-core (both installed by the project's own
// files: package.json, and apt for chromium), every request and WebSocket to a non-loopback address blocked and
// counted, every console error and uncaught page error collected per page, screenshots written to one folder.
// Each scenario script (console.mjs, graphiql.mjs, docs.mjs) imports `session`, runs, and prints one JSON report:
// {blocked: [...], consoleErrors: {page: [...]}, screenshots: [...], failure?, ...what the scenario recorded}.
// Loopback WebSockets go to the server unchanged (routeWebSocket with connectToServer and no handler forwards
// every frame, the offered subprotocols and the close code).
import { chromium } from "playwright-core";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export async function session(shots, scenario) {
  const report = { blocked: [], consoleErrors: {}, screenshots: [] };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
  let current = null;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.route("**/*", (route) => {
      const target = new URL(route.request().url());
      if (LOOPBACK.has(target.hostname) || target.protocol === "data:") return route.continue();
      report.blocked.push(target.href);
      return route.abort();
    });
    await context.routeWebSocket(/.*/, (ws) => {
      const target = new URL(ws.url());
      if (!LOOPBACK.has(target.hostname)) {
        report.blocked.push(target.href);
        ws.close();
        return;
      }
      ws.connectToServer(); // no handlers: every frame is forwarded both ways as is
    });
    const tools = {
      context,
      report,
      // A new tab whose console errors are counted under `name`.
      async page(name) {
        const page = await context.newPage();
        const errors = (report.consoleErrors[name] ||= []);
        page.on("console", (message) => {
          if (message.type() === "error") errors.push(message.text());
        });
        page.on("pageerror", (error) => errors.push(String(error)));
        current = page;
        return page;
      },
      // A full-page screenshot named after what it shows.
      async shot(page, name) {
        const path = `${shots}/${name}.png`;
        await page.screenshot({ path, fullPage: true });
        report.screenshots.push(path);
      },
    };
    await scenario(tools);
  } catch (error) {
    report.failure = String(error?.stack || error);
    if (current) await current.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
}
