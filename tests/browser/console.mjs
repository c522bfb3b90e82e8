// The console in Chromium against a live `obsrvr-flow dev` (tests/test_browser_pages.py):
// onboarding end to end (a bad config shows the field's error, a good one shows the key once with the links),
// the dashboard of the demo tenant after the sample ledgers (its ranges and usage), and the live feed showing a
// row of a ledger committed after it subscribed.
// Usage: node console.mjs <base URL> <admin token> <tenant> <its api key> <screenshot folder> <new tenant id>
import { session } from "./harness.mjs";

const [base, adminToken, tenant, apiKey, shots, newTenant] = process.argv.slice(2);
const BAD_MIN_AMOUNT = "a lot";

await session(shots, async ({ page: open, shot, report }) => {
  // Onboarding, as the operator.
  const page = await open("onboarding");
  await page.goto(`${base}/console`);
  await page.getByLabel("Admin token").fill(adminToken);
  await page.getByRole("button", { name: "Onboard a tenant" }).click();
  await page.locator("fieldset.of-processor").first().waitFor();
  report.processorForms = await page.locator("fieldset.of-processor").evaluateAll((sets) => sets.map((s) => s.dataset.type));
  report.requiresNotes = await page.locator(".of-requires").allInnerTexts();
  await page.getByLabel("Tenant id").fill(newTenant);
  await page.getByLabel("Name").fill("Browser Test Co");
  await page.locator("#enable-TokenTransferProcessor").check();
  const transfers = page.locator('fieldset[data-type="TokenTransferProcessor"]');
  report.transferFields = await transfers.locator(".of-field").evaluateAll((fields) => fields.map((f) => f.dataset.path));
  const minAmount = transfers.locator('.of-field[data-path="processor:TokenTransferProcessor.config.min_amount"]');
  await minAmount.locator("input").fill(BAD_MIN_AMOUNT);
  await transfers.getByText("transfer", { exact: true }).click(); // an enum list: a checkbox per value
  await page.locator("#enable-DEXVolumeProcessor").check(); // derived from DEXTradeProcessor, not picked
  await page.getByRole("button", { name: "Create tenant" }).click();
  const fieldError = minAmount.locator(".of-field-error");
  await fieldError.waitFor({ state: "visible" });
  report.fieldError = await fieldError.innerText();
  report.summaryErrors = await page.locator(".of-summary li").allInnerTexts();
  const volumeError = page.locator('fieldset[data-type="DEXVolumeProcessor"] > .of-field-error');
  report.dependencyError = (await volumeError.isVisible()) ? await volumeError.innerText() : null;
  await shot(page, "console-onboarding-error");
  await minAmount.locator("input").fill("100");
  await page.locator("#enable-DEXVolumeProcessor").uncheck();
  // "Check" asks the server to validate without creating: the problems go away, and no tenant exists yet.
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await fieldError.waitFor({ state: "hidden" });
  report.summaryAfterCheck = await page.locator(".of-summary").innerText();
  report.tenantsAfterCheck = await page.evaluate(
    async ([path, token]) =>
      (await (await fetch(path, { headers: { Authorization: `Bearer ${token}` } })).json()).data.map((t) => t.id),
    ["/admin/tenants", adminToken],
  );
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.locator("#new-api-key").waitFor();
  report.newKey = await page.locator("#new-api-key").innerText();
  report.createdLinks = await page.locator(".of-created dd a").evaluateAll((links) => links.map((a) => a.href));
  report.fieldErrorAfterFix = await fieldError.isVisible();
  await shot(page, "console-onboarding-created");

  // The demo tenant's dashboard with its key (the admin token is still in this tab: keys and webhooks show too).
  await page.goto(`${base}/console#/`);
  await page.getByLabel("Tenant id").fill(tenant);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
  const transfersRow = page.locator(".of-ingestion tbody tr", { hasText: "TokenTransferProcessor" });
  await transfersRow.waitFor();
  report.ingestion = await page.locator(".of-ingestion tbody tr").evaluateAll((rows) =>
    rows.map((r) => [...r.children].map((c) => c.innerText)),
  );
  report.ingestionHeaders = await page.locator(".of-ingestion th").allInnerTexts();
  report.network = await page.locator(".of-network").innerText();
  await page.locator(".of-usage").waitFor();
  report.usage = await page.locator(".of-usage").innerText();
  await page.locator(".of-keys").waitFor();
  report.keys = await page.locator(".of-keys tbody tr").count();
  report.sharedKey = await page.evaluate(() => localStorage.getItem("obsrvr-flow:api-key"));
  // Keys with admin rights: create one (its secret shown once), then revoke it (after the confirmation).
  await page.getByPlaceholder("name (optional)").fill("from-the-console");
  await page.getByRole("button", { name: "Create a key" }).click();
  const created = page.locator(".of-keys tbody tr", { hasText: "from-the-console" });
  await created.waitFor();
  report.createdKeySecret = await page.locator("section[aria-label='API keys'] .of-secret").innerText();
  page.once("dialog", (dialog) => dialog.accept());
  await created.getByRole("button", { name: "Revoke" }).click();
  await page.locator(".of-keys tbody tr", { hasText: "from-the-console" }).getByText("revoked").waitFor();
  report.keysAfter = await page.locator(".of-keys tbody tr").evaluateAll((rows) => rows.map((r) => r.innerText));

  // Webhook endpoints with their backlog, and an endpoint's delivery log (its receiver is down: attempts fail).
  const endpointRow = page.locator(".of-webhooks tbody tr").first();
  await endpointRow.waitFor();
  report.webhookRow = await endpointRow.evaluate((r) => [...r.children].map((c) => c.innerText));
  await page.waitForFunction(
    async ([path, token]) => {
      const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
      const endpoints = (await response.json()).data;
      const log = await fetch(`${path}/${endpoints[0].id}/deliveries?limit=1`, { headers: { Authorization: `Bearer ${token}` } });
      return (await log.json()).data.length > 0;
    },
    [`/admin/tenants/${tenant}/webhooks`, adminToken],
    { timeout: 60000, polling: 1000 },
  );
  await endpointRow.getByRole("button", { name: "Delivery log" }).click();
  await page.locator(".of-deliveries tbody tr").first().waitFor();
  report.deliveries = await page.locator(".of-deliveries tbody tr").evaluateAll((rows) =>
    rows.map((r) => [...r.children].map((c) => c.innerText)),
  );

  // The live feed: subscribed by the dashboard; the first row must come from a ledger committed after that.
  report.latestBeforeFeed = await page.evaluate(async ([path, key]) => {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${key}` } });
    return Number(response.headers.get("Latest-Ledger"));
  }, [`/api/v1/${tenant}/ingestion`, apiKey]);
  // A row of a ledger committed after that one: how long it takes is reported (one ledger a second here).
  const askedAt = Date.now();
  // (Functions run in the page are written out: its CSP, rightly, refuses to evaluate strings.)
  await page.waitForFunction(
    (after) =>
      [...document.querySelectorAll(".of-feed-row td:nth-child(2)")]
        .map((td) => Number(td.innerText.replace(/,/g, "")))
        .some((ledger) => ledger > after),
    report.latestBeforeFeed,
    { timeout: 30000 },
  );
  report.newRowAfterMs = Date.now() - askedAt;
  // Rows of three ledgers in the chart (the table keeps the newest 20 rows: about one ledger's worth here).
  await page.waitForFunction(() => document.querySelectorAll(".of-chart-svg rect").length >= 3, null, {
    timeout: 30000,
  });
  report.feedRows = await page.locator(".of-feed-row").evaluateAll((rows) =>
    rows.map((r) => ({ id: r.children[0].innerText, ledger: Number(r.children[1].innerText.replace(/,/g, "")) })),
  );
  report.chartBars = await page.locator(".of-chart-svg rect").evaluateAll((bars) =>
    bars.map((bar) => bar.querySelector("title").textContent),
  );
  await shot(page, "console-dashboard");

  // The admin token alone (a tenant whose key this browser does not hold): ingestion, keys and webhooks through
  // the admin API; the live feed says it needs the tenant's key.
  const asAdmin = await open("admin-only");
  await asAdmin.goto(`${base}/console#/`);
  await asAdmin.getByLabel("Admin token").fill(adminToken);
  await asAdmin.getByLabel("Tenant id").fill(newTenant);
  await asAdmin.getByRole("button", { name: "Open the dashboard" }).click();
  await asAdmin.locator(".of-ingestion tbody tr").first().waitFor();
  report.adminOnlyIngestion = await asAdmin.locator(".of-ingestion tbody tr td:first-child").allInnerTexts();
  await asAdmin.locator(".of-keys tbody tr").first().waitFor();
  report.adminOnlyKeys = await asAdmin.locator(".of-keys tbody tr").count();
  report.adminOnlyFeed = await asAdmin.locator("section[aria-label='Live feed']").innerText();

  // A wrong key in a tab without the admin token: each panel says why (HTTP 401), nothing else breaks.
  const wrong = await open("wrong-key");
  await wrong.goto(`${base}/console#/`);
  await wrong.getByLabel("Tenant id").fill(tenant);
  await wrong.getByLabel("API key").fill("ofk_not_a_key_of_anyone");
  await wrong.getByRole("button", { name: "Open the dashboard" }).click();
  const refused = wrong.locator("section[aria-label='Ingestion'] .of-error");
  await refused.waitFor();
  report.wrongKeyIngestion = await refused.innerText();
  await wrong.locator("section[aria-label='Live feed'] .of-error").waitFor();
  report.wrongKeyFeed = await wrong.locator("section[aria-label='Live feed'] .of-error").innerText();
  report.wrongKeyKeys = await wrong.locator("section[aria-label='API keys']").innerText();
  await shot(wrong, "console-wrong-key");
  // That tab saved its (wrong) key, which every tab shares: the first tab's dashboard keeps the key it opened with,
  // so its next refresh (every 5 s) still succeeds.
  const refresh = await page.waitForRequest((r) => r.url().endsWith(`/api/v1/${tenant}/ingestion`), { timeout: 15000 });
  report.firstTabAfterOtherKey = (await refresh.response()).status();

  // Back home, the key saved by that visit is offered; "Forget the saved key" removes it from this browser.
  await wrong.goto(`${base}/console#/`);
  report.keyBeforeForget = await wrong.getByLabel("API key").inputValue();
  const forget = wrong.getByRole("button", { name: "Forget the saved key" });
  await forget.click();
  report.keyAfterForget = await wrong.getByLabel("API key").inputValue();
  report.forgetDisabled = await forget.isDisabled();
  report.storedAfterForget = await wrong.evaluate(() => [
    localStorage.getItem("obsrvr-flow:api-key"),
    localStorage.getItem("obsrvr-flow:tenant"),
  ]);
});
