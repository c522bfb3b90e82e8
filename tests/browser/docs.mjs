// The REST docs page in a 1,280 px window: it must not be wider than the window once the key loaded it.
// Usage: node docs.mjs <docs page URL> <api key> <screenshot folder>
import { session } from "./harness.mjs";

const [url, apiKey, shots] = process.argv.slice(2);

await session(shots, async ({ page: open, shot, report }) => {
  const page = await open("docs");
  await page.goto(url);
  await page.getByLabel("API key").fill(apiKey);
  await page.getByRole("button", { name: "Load" }).click();
  await page.locator("#operations > *").first().waitFor();
  report.operations = await page.locator("#operations > *").count();
  report.viewportWidth = page.viewportSize().width;
  report.scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  await shot(page, "docs");
});
