// A tenant's dashboard (its API key, or the admin token): ingestion, live feed, usage and cost, keys, webhooks.
import {
  admin,
  adminToken,
  apiKey,
  bytes,
  failure,
  h,
  notice,
  number,
  savedTenant,
  seconds,
  section,
  table,
  tenantApi,
} from "./dom.js";
import { liveFeed } from "./feed.js";
import { cleanup, render } from "./layout.js";

export async function dashboard(tenant) {
  const asAdmin = Boolean(adminToken());
  const withKey = Boolean(apiKey()) && savedTenant() === tenant;
  // The key this dashboard opened with, for all its requests and the live feed's reconnections: the saved key is
  // shared by the browser's tabs, and another tab saving another key must not change what this one shows.
  const key = withKey ? apiKey() : "";
  if (!asAdmin && !withKey) {
    render(notice("Open the dashboard with this tenant's API key or the admin token."), h("a", { href: "#/" }, "Sign in"));
    return;
  }
  // The saved tenant names the tenant of the saved key (GraphiQL shares both); an admin visit leaves the pair alone.
  const base = `/api/v1/${encodeURIComponent(tenant)}`;
  const ingestionBox = h("div", {}, notice("Loading…"));
  const usageBox = h("div", {}, notice("Loading…"));
  const keysBox = h("div");
  const webhooksBox = h("div");
  const feedBox = h("div");
  render(
    h("h1", {}, `Tenant ${tenant}`),
    h(
      "p",
      { class: "of-links" },
      h("a", { href: `${base}/graphql` }, "GraphiQL"),
      h("a", { href: `${base}/docs` }, "REST docs"),
      h("a", { href: `${base}/openapi.json` }, "OpenAPI"),
    ),
    section("Ingestion", ingestionBox),
    section("Live feed", feedBox),
    section("Usage and cost", usageBox),
    section("API keys", keysBox),
    section("Webhook endpoints", webhooksBox),
  );
  const fetchTenant = (path, adminPath) => (withKey ? tenantApi(tenant, path, key) : admin(adminPath));
  const refreshIngestion = async () => {
    try {
      showIngestion(ingestionBox, await fetchTenant("/ingestion", `/admin/tenants/${encodeURIComponent(tenant)}/ingestion`));
    } catch (error) {
      ingestionBox.replaceChildren(failure(error));
    }
  };
  await refreshIngestion();
  const timer = setInterval(refreshIngestion, 5000);
  cleanup.push(() => clearInterval(timer));
  fetchTenant("/usage", `/admin/tenants/${encodeURIComponent(tenant)}/usage`)
    .then((report) => showUsage(usageBox, report))
    .catch((error) => usageBox.replaceChildren(failure(error)));
  if (asAdmin) {
    showKeys(keysBox, tenant);
    showWebhooks(webhooksBox, tenant);
  } else {
    keysBox.replaceChildren(notice("Listing, creating and revoking keys needs the admin token."));
    webhooksBox.replaceChildren(notice("Webhook endpoints and their delivery log need the admin token."));
  }
  if (withKey) {
    tenantApi(tenant, "/", key)
      .then((discovery) => liveFeed(feedBox, tenant, discovery, key))
      .catch((error) => feedBox.replaceChildren(failure(error)));
  } else {
    feedBox.replaceChildren(notice("The live feed runs over the tenant's GraphQL API: open the dashboard with its API key."));
  }
}

export function showIngestion(box, status) {
  const lag = status.lag || {};
  const rows = status.processors.map((p) => {
    const b = p.backfill;
    const progress = b
      ? h(
          "span",
          { class: "of-progress" },
          h("progress", { max: b.ledgers_total || 1, value: b.ledgers_done }),
          ` ${number(b.ledgers_done)} / ${number(b.ledgers_total)}`,
        )
      : "no backfill";
    // `ingested` (every range ingested per processor, by any path) comes with the ingested-ranges record; a
    // service without it shows the ledgers of the stored rows only.
    const ingested = status.ingested
      ? [(status.ingested[p.type] || []).map(([a, b]) => `${number(a)} – ${number(b)}`).join(", ") || "none yet"]
      : [];
    return [
      p.type,
      ...ingested,
      p.stored ? `${number(p.stored.first_ledger)} – ${number(p.stored.last_ledger)}` : "no rows yet",
      progress,
      b && b.ledgers_per_second ? b.ledgers_per_second.toFixed(1) : "–",
      b && b.eta_seconds ? seconds(b.eta_seconds) : "–",
      b && b.last_error ? b.last_error : "",
    ];
  });
  box.replaceChildren(
    h(
      "p",
      { class: "of-network" },
      `Network ${status.network}: latest ledger ${number(status.latest_ledger)} (live tail at ${number(status.live_ledger)}); `,
      `lag behind the network ${seconds(lag.seconds_behind)}`,
      lag.latest_closed_at ? ` (ledger closed ${lag.latest_closed_at})` : "",
    ),
    table(
      ["processor", ...(status.ingested ? ["ledgers ingested"] : []), "ledgers of stored rows", "backfill", "ledgers/s", "ETA", "last error"],
      rows,
      { class: "of-ingestion" },
    ),
  );
}

export function showUsage(box, report) {
  const totals = report.totals || {};
  const cost = report.estimated_monthly_cost_usd || {};
  box.replaceChildren(
    h(
      "dl",
      { class: "of-usage" },
      h("dt", {}, "Month"),
      h("dd", {}, report.month),
      h("dt", {}, "Rows hot / cold"),
      h("dd", {}, `${number(totals.hot?.rows)} / ${number(totals.cold?.rows)}`),
      h("dt", {}, "Bytes hot / cold"),
      h("dd", {}, `${bytes(totals.hot?.bytes)} / ${bytes(totals.cold?.bytes)}`),
      h("dt", {}, "Requests this month"),
      h("dd", {}, number(report.requests_this_month)),
      h("dt", {}, "Cold queries this month"),
      h("dd", {}, number(report.cold_queries_this_month)),
      h("dt", {}, "Estimated monthly cost"),
      h("dd", {}, `$${cost.total ?? "–"}`),
    ),
    table(
      ["processor", "hot rows", "cold rows", "hot bytes"],
      (report.processors || []).map((p) => [p.processor, number(p.hot?.rows), number(p.cold?.rows), bytes(p.hot?.bytes)]),
      { class: "of-usage-processors" },
    ),
    h("p", { class: "of-hint" }, `Computed at ${report.generated_at}; cost items: ${Object.entries(cost).map(([k, v]) => `${k} $${v}`).join(", ")}`),
  );
}

export async function showKeys(box, tenant) {
  const path = `/admin/tenants/${encodeURIComponent(tenant)}`;
  try {
    const { keys } = await admin(path);
    const created = h("div");
    const nameInput = h("input", { id: "new-key-name", placeholder: "name (optional)" });
    box.replaceChildren(
      table(
        ["id", "prefix", "name", "scopes", "created", "last used", ""],
        keys.map((k) => [
          h("code", {}, k.id),
          k.prefix,
          k.name || "",
          k.scopes.join(" "),
          k.created_at.slice(0, 19),
          k.last_used_at ? k.last_used_at.slice(0, 19) : "never",
          k.revoked_at
            ? `revoked ${k.revoked_at.slice(0, 19)}`
            : h(
                "button",
                {
                  type: "button",
                  onclick: async () => {
                    if (!confirm(`Revoke key ${k.prefix}? Clients using it stop at once.`)) return;
                    await admin(`${path}/keys/${encodeURIComponent(k.id)}`, { method: "DELETE" }).catch((e) => box.prepend(failure(e)));
                    showKeys(box, tenant);
                  },
                },
                "Revoke",
              ),
        ]),
        { class: "of-keys" },
      ),
      h(
        "form",
        {
          class: "of-inline",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const body = nameInput.value.trim() ? { name: nameInput.value.trim() } : {};
              const answer = await admin(`${path}/keys`, { method: "POST", body });
              await showKeys(box, tenant);
              box.append(h("p", {}, "New key, shown only this once: ", h("output", { class: "of-secret" }, answer.api_key.secret)));
            } catch (error) {
              created.replaceChildren(failure(error));
            }
          },
        },
        nameInput,
        h("button", { type: "submit" }, "Create a key"),
      ),
      created,
    );
  } catch (error) {
    box.replaceChildren(failure(error));
  }
}

export async function showWebhooks(box, tenant) {
  const path = `/admin/tenants/${encodeURIComponent(tenant)}/webhooks`;
  try {
    const { data } = await admin(path);
    if (!data.length) {
      box.replaceChildren(notice("No webhook endpoint: set api.webhook_url in the tenant's configuration, or POST one to " + path));
      return;
    }
    const log = h("div");
    box.replaceChildren(
      table(
        ["id", "url", "events", "status", "pending", "dead", "oldest undelivered", ""],
        data.map((e) => [
          h("code", {}, e.id),
          e.url,
          (e.events || []).join(", "),
          e.disabled_reason ? `${e.status} (${e.disabled_reason})` : e.status,
          number(e.backlog?.pending),
          number(e.backlog?.dead),
          seconds(e.backlog?.oldest_undelivered_age_seconds),
          h(
            "button",
            {
              type: "button",
              onclick: async () => {
                try {
                  const deliveries = await admin(`${path}/${encodeURIComponent(e.id)}/deliveries?limit=20`);
                  log.replaceChildren(
                    h("h3", {}, `Delivery log of ${e.id}`),
                    deliveries.data.length
                      ? table(
                          ["message", "event", "attempt", "started", "ms", "outcome", "status", "error"],
                          deliveries.data.map((d) => [
                            h("code", {}, d.message_id),
                            d.event_type,
                            d.attempt,
                            String(d.started_at).slice(0, 19),
                            d.duration_ms ?? "",
                            d.outcome,
                            d.status_code ?? "",
                            d.error ?? "",
                          ]),
                          { class: "of-deliveries" },
                        )
                      : notice("No delivery attempt yet."),
                  );
                } catch (error) {
                  log.replaceChildren(failure(error));
                }
              },
            },
            "Delivery log",
          ),
        ]),
        { class: "of-webhooks" },
      ),
      log,
    );
  } catch (error) {
    box.replaceChildren(failure(error));
  }
}
