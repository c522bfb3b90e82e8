// The console (issue 17): onboarding with forms generated from the processors' JSON Schemas, a tenant's dashboard
// (ingestion, usage and cost, keys, webhooks) and a live feed of its newest rows over the GraphQL subscription.
// Plain DOM code of our own plus the graphql-ws client, bundled by web/build.mjs; served by api/console.py.
import { createClient } from "graphql-ws";
import "./console.css";

const KEY_ITEM = "obsrvr-flow:api-key"; // shared with GraphiQL (web/graphiql/main.jsx)
const TENANT_ITEM = "obsrvr-flow:tenant";
const ADMIN_ITEM = "obsrvr-flow:admin-token"; // session storage: the operator's credential ends with the tab
const FEED_ROWS = 20; // rows kept in the live feed's table
const CHART_LEDGERS = 30; // ledgers shown in the rows-per-ledger chart

const root = document.getElementById("console");
let cleanup = []; // what the current view must stop when another one opens (the subscription)

// ---- small helpers -------------------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const adminToken = () => sessionStorage.getItem(ADMIN_ITEM) || "";
const apiKey = () => localStorage.getItem(KEY_ITEM) || "";
const savedTenant = () => localStorage.getItem(TENANT_ITEM) || "";

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, { method = "GET", body, credential } = {}) {
  const headers = { Accept: "application/json" };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

const admin = (path, options = {}) => api(path, { ...options, credential: adminToken() });
const tenantApi = (tenant, path) => api(`/api/v1/${encodeURIComponent(tenant)}${path}`, { credential: apiKey() });

function number(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function bytes(value) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(value || 0);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// Descriptions come from docstrings: ``code`` (reStructuredText) or `code` (Markdown) as <code>, never backticks.
function prose(text) {
  return text.split(/``?([^`]+)``?/).map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
  );
}

function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), ...children);
}

function notice(text, kind = "note") {
  return h("p", { class: `of-${kind}`, role: kind === "error" ? "alert" : null }, text);
}

function failure(error) {
  return notice(error instanceof ApiError ? `${error.message} (HTTP ${error.status})` : String(error), "error");
}

// ---- layout and routing ---------------------------------------------------------------------------------------

function shell(...content) {
  const tenant = savedTenant();
  return h(
    "div",
    { class: "of-shell" },
    h(
      "header",
      { class: "of-top" },
      h("a", { class: "of-brand", href: "#/" }, "Obsrvr Flow console"),
      h(
        "nav",
        {},
        h("a", { href: "#/onboarding" }, "Onboarding"),
        h("a", { href: tenant ? `#/tenants/${encodeURIComponent(tenant)}` : "#/" }, "Dashboard"),
        tenant ? h("a", { href: `/api/v1/${encodeURIComponent(tenant)}/graphql` }, "GraphiQL") : null,
        tenant ? h("a", { href: `/api/v1/${encodeURIComponent(tenant)}/docs` }, "REST docs") : null,
      ),
    ),
    h("main", {}, ...content),
  );
}

function render(...content) {
  for (const stop of cleanup.splice(0)) stop();
  root.replaceChildren(shell(...content));
}

function route() {
  const [, first, second] = location.hash.replace(/^#/, "").split("/");
  if (first === "onboarding") return onboarding();
  if (first === "tenants" && second) return dashboard(decodeURIComponent(second));
  return home();
}

window.addEventListener("hashchange", route);

// ---- home: the credentials ------------------------------------------------------------------------------------

function home() {
  const token = h("input", { id: "admin-token", type: "password", autocomplete: "off", value: adminToken() });
  const tenant = h("input", { id: "tenant-id", autocomplete: "off", value: savedTenant() });
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", value: apiKey() });
  render(
    h("h1", {}, "Welcome"),
    h(
      "p",
      {},
      "Operators onboard tenants with the admin token (",
      h("code", {}, "obsrvr-flow dev"),
      " prints it). A tenant's dashboard opens with its API key, or with the admin token; the key is shared with " +
        "GraphiQL in this browser.",
    ),
    h(
      "form",
      {
        class: "of-card",
        onsubmit: (event) => {
          event.preventDefault();
          sessionStorage.setItem(ADMIN_ITEM, token.value.trim());
          location.hash = "#/onboarding";
        },
      },
      h("h2", {}, "Operator"),
      h("label", { for: "admin-token" }, "Admin token"),
      token,
      h("button", { type: "submit" }, "Onboard a tenant"),
    ),
    h(
      "form",
      {
        class: "of-card",
        onsubmit: (event) => {
          event.preventDefault();
          if (token.value.trim()) sessionStorage.setItem(ADMIN_ITEM, token.value.trim());
          localStorage.setItem(TENANT_ITEM, tenant.value.trim());
          if (key.value.trim()) localStorage.setItem(KEY_ITEM, key.value.trim());
          location.hash = `#/tenants/${encodeURIComponent(tenant.value.trim())}`;
        },
      },
      h("h2", {}, "Tenant"),
      h("label", { for: "tenant-id" }, "Tenant id"),
      tenant,
      h("label", { for: "api-key" }, "API key"),
      key,
      h("button", { type: "submit" }, "Open the dashboard"),
    ),
  );
}

// ---- forms generated from JSON Schema -------------------------------------------------------------------------

function resolve(schema, defs) {
  if (schema?.$ref) return resolve(defs[schema.$ref.split("/").pop()], defs);
  const options = schema?.anyOf || schema?.oneOf;
  if (options) {
    const real = options.filter((option) => option.type !== "null");
    if (real.length === 1) return { ...resolve(real[0], defs), nullable: true, ...pick(schema) };
  }
  return schema;
}

function pick(schema) {
  const kept = {};
  for (const name of ["title", "description", "default"]) if (name in schema) kept[name] = schema[name];
  return kept;
}

// One input for one property. Returns {element, read}: read() gives the value to send, or undefined when the
// field is left at its default (the document then holds only what the operator chose).
function field(name, raw, defs, path, registerPath) {
  const schema = resolve(raw, defs);
  const id = `f-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
  const title = schema.title || name;
  const hint = schema.description ? h("small", { class: "of-hint" }, prose(schema.description)) : null;
  const error = h("div", { class: "of-field-error", id: `${id}-error`, role: "alert", hidden: true });
  let input;
  let read;
  const itemEnum = schema.type === "array" ? resolve(schema.items || {}, defs).enum : null;
  if (schema.type === "boolean") {
    input = h("input", { id, type: "checkbox", checked: schema.default === true });
    read = () => (input.checked === (schema.default === true) ? undefined : input.checked);
  } else if (schema.enum) {
    input = h(
      "select",
      { id },
      h("option", { value: "" }, `(default${schema.default !== undefined ? `: ${schema.default}` : ""})`),
      schema.enum.map((value) => h("option", { value }, value)),
    );
    read = () => input.value || undefined;
  } else if (itemEnum) {
    const boxes = itemEnum.map((value) => h("input", { type: "checkbox", value, id: `${id}-${value}` }));
    input = h(
      "div",
      { id, class: "of-choices", role: "group", "aria-label": title },
      boxes.map((box) => h("label", { class: "of-choice" }, box, ` ${box.value}`)),
    );
    read = () => {
      const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
      return chosen.length ? chosen : undefined;
    };
  } else if (schema.type === "array" && resolve(schema.items || {}, defs).type === "string") {
    input = h("textarea", { id, rows: 2, placeholder: "one per line" });
    read = () => {
      const items = input.value.split(/[\n,]/).map((item) => item.trim()).filter(Boolean);
      return items.length ? items : undefined;
    };
  } else if (schema.type === "integer" || schema.type === "number" || schema.type === "string") {
    const placeholder = schema.default !== undefined && schema.default !== null ? String(schema.default) : "";
    input = h("input", { id, type: "text", placeholder, inputmode: schema.type === "string" ? null : "numeric" });
    read = () => {
      const text = input.value.trim();
      if (!text) return undefined;
      // A number field sends a number when the text is one, else the text itself: the server says what is wrong.
      return schema.type !== "string" && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    };
  } else {
    input = h("textarea", { id, rows: 2, placeholder: "JSON" });
    read = () => {
      const text = input.value.trim();
      if (!text) return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    };
  }
  if (error) input.setAttribute("aria-describedby", `${id}-error`);
  registerPath(path, error);
  const label = schema.type === "boolean" ? h("label", { for: id }, input, ` ${title}`) : h("label", { for: id }, title);
  const element = h(
    "div",
    { class: "of-field", dataset: { path } },
    label,
    schema.type === "boolean" ? null : input,
    hint,
    error,
  );
  return { element, read };
}

function objectForm(schema, pathOf, registerPath) {
  const defs = schema.$defs || {};
  const fields = Object.entries(schema.properties || {}).map(([name, property]) => ({
    name,
    ...field(name, property, defs, pathOf(name), registerPath),
  }));
  return {
    element: h("div", { class: "of-fields" }, fields.map((f) => f.element)),
    read: () => {
      const value = {};
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) value[f.name] = v;
      }
      return value;
    },
  };
}

// ---- onboarding -------------------------------------------------------------------------------------------------

async function onboarding() {
  if (!adminToken()) {
    render(notice("Onboarding needs the admin token: enter it on the first page."), h("a", { href: "#/" }, "Back"));
    return;
  }
  render(h("h1", {}, "Onboard a tenant"), notice("Loading the processor catalogue…"));
  let catalogue;
  try {
    catalogue = await admin("/admin/processors");
  } catch (error) {
    render(h("h1", {}, "Onboard a tenant"), failure(error));
    return;
  }
  // Error lines name paths such as customer.processors[2].config.contracts[0]: each field registers the path it
  // answers for; a problem goes to the field with the longest matching path (the summary lists every problem).
  const slots = new Map();
  const registerPath = (path, slot) => slots.set(path, slot);
  const selected = () => processors.filter((p) => p.enable.checked);
  // Paths of processor fields depend on which processors are picked: they are registered by type and mapped to
  // their index in the document when the document is built.
  const processorPath = (type, rest) => `processor:${type}${rest ? `.${rest}` : ""}`;

  const id = field("id", { title: "Tenant id", type: "string", description: "Used in URLs: /api/v1/<id>/" }, {}, "customer.id", registerPath);
  const name = field("name", { title: "Name", type: "string" }, {}, "customer.name", registerPath);
  const network = h("select", { id: "f-network" }, catalogue.networks.map((n) => h("option", { value: n }, n)));
  const networkError = h("div", { class: "of-field-error", role: "alert", hidden: true });
  registerPath("customer.network", networkError);
  registerPath("customer.processors", h("div"));

  const byType = new Map(catalogue.processors.map((p) => [p.type, p]));
  const processors = catalogue.processors.map((p) => {
    const enable = h("input", { type: "checkbox", id: `enable-${p.type}` });
    const typeError = h("div", { class: "of-field-error", role: "alert", hidden: true });
    registerPath(processorPath(p.type, "type"), typeError);
    const start = field(
      "start_ledger",
      { title: "Start ledger", type: "integer", description: "Backfill from this ledger (empty: from the live tail)" },
      {},
      processorPath(p.type, "start_ledger"),
      registerPath,
    );
    const config = objectForm(p.config_schema, (prop) => processorPath(p.type, `config.${prop}`), registerPath);
    const needs = p.requires.length
      ? h(
          "p",
          { class: "of-requires" },
          `Derived from ${p.requires.join(" and ")}: enable ${p.requires.length > 1 ? "them" : "it"} too.`,
        )
      : null;
    const neededBy = catalogue.processors.filter((other) => other.requires.includes(p.type)).map((o) => o.type);
    const settings = h("div", { class: "of-processor-settings", hidden: true }, start.element, config.element);
    enable.addEventListener("change", () => {
      settings.hidden = !enable.checked;
    });
    const element = h(
      "fieldset",
      { class: "of-processor", dataset: { type: p.type } },
      h("legend", {}, h("label", { for: enable.id }, enable, ` ${p.type}`)),
      h("p", {}, prose(p.description)),
      needs,
      neededBy.length ? h("p", { class: "of-hint" }, `${neededBy.join(", ")} derive${neededBy.length > 1 ? "" : "s"} from it.`) : null,
      h(
        "p",
        { class: "of-hint" },
        `GraphQL: ${p.subscriptions.map((s) => s.field).join(", ") || "no subscriptions"}; webhook events: ${
          p.webhook_events.map((e) => e.name).join(", ") || "none"
        }; scope ${p.scope}`,
      ),
      typeError,
      settings,
    );
    return { ...p, enable, start, config, element };
  });
  const storage = objectForm(catalogue.storage_schema, (prop) => `customer.storage.${prop}`, registerPath);
  const apiSettings = objectForm(catalogue.api_schema, (prop) => `customer.api.${prop}`, registerPath);
  const summary = h("div", { class: "of-summary", "aria-live": "polite" });
  const result = h("div", { class: "of-result" });

  function documentAndPaths() {
    const chosen = selected();
    const paths = new Map(); // document path prefix -> registered path
    const entries = chosen.map((p, index) => {
      const entry = { type: p.type };
      const start = p.start.read();
      if (start !== undefined) entry.start_ledger = start;
      entry.config = p.config.read();
      paths.set(`customer.processors[${index}]`, processorPath(p.type, ""));
      return entry;
    });
    const customer = {
      id: id.read() ?? "",
      name: name.read() ?? "",
      network: network.value,
      processors: entries,
      storage: storage.read(),
      api: apiSettings.read(),
    };
    return { document: { customer }, paths };
  }

  function slotFor(line, paths) {
    let path = line.split(": ")[0];
    for (const [prefix, registered] of paths) {
      if (path === prefix || path.startsWith(`${prefix}.`)) {
        path = registered.replace(/\.$/, "") + path.slice(prefix.length);
        break;
      }
    }
    // The longest registered path the problem's path starts with (a list item's problem goes to its list).
    let best = null;
    for (const registered of slots.keys()) {
      const fits = path === registered || path.startsWith(`${registered}.`) || path.startsWith(`${registered}[`);
      if (fits && (!best || registered.length > best.length)) best = registered;
    }
    return best ? slots.get(best) : null;
  }

  function show(errors, paths) {
    for (const slot of slots.values()) {
      slot.hidden = true;
      slot.textContent = "";
    }
    for (const line of errors) {
      const slot = slotFor(line, paths);
      if (!slot) continue;
      slot.hidden = false;
      slot.textContent = slot.textContent ? `${slot.textContent}\n${line}` : line;
    }
    summary.replaceChildren(
      errors.length
        ? h("div", { class: "of-error", role: "alert" }, h("strong", {}, `${errors.length} problem(s):`), h("ul", {}, errors.map((e) => h("li", {}, e))))
        : "",
    );
  }

  async function check() {
    const { document, paths } = documentAndPaths();
    const answer = await admin("/admin/tenants/validate", { method: "POST", body: document });
    show(answer.errors, paths);
    return answer.valid ? document : null;
  }

  async function submit(event) {
    event.preventDefault();
    result.replaceChildren();
    try {
      const document = await check();
      if (!document) return;
      const created = await admin("/admin/tenants", { method: "POST", body: document });
      showCreated(created);
    } catch (error) {
      summary.replaceChildren(failure(error));
    }
  }

  function showCreated(created) {
    const tenant = created.tenant.id;
    const secret = created.api_key.secret;
    const links = [
      ["Endpoint (discovery)", created.discovery_url],
      ["GraphQL", created.graphql_url],
      ["OpenAPI", created.openapi_url],
      ["REST docs", created.docs_url],
    ];
    form.hidden = true;
    result.replaceChildren(
      h(
        "div",
        { class: "of-card of-created" },
        h("h2", {}, `Tenant ${tenant} created`),
        h("p", {}, "Its API key, shown only this once: store it now."),
        h("output", { class: "of-secret", id: "new-api-key" }, secret),
        h("dl", {}, links.map(([label, url]) => [h("dt", {}, label), h("dd", {}, h("a", { href: url }, url))])),
        h(
          "p",
          {},
          h(
            "button",
            {
              type: "button",
              onclick: () => {
                localStorage.setItem(KEY_ITEM, secret);
                localStorage.setItem(TENANT_ITEM, tenant);
                location.hash = `#/tenants/${encodeURIComponent(tenant)}`;
              },
            },
            "Use this key and open the dashboard",
          ),
        ),
      ),
    );
  }

  const form = h(
    "form",
    { class: "of-onboarding", onsubmit: submit, novalidate: true },
    h("fieldset", { class: "of-card" }, h("legend", {}, "Tenant"), id.element, name.element,
      h("div", { class: "of-field" }, h("label", { for: "f-network" }, "Network"), network, networkError)),
    h("h2", {}, "Processors"),
    h("p", {}, "Pick what to index. Each form is generated from the processor's configuration model; empty fields keep their defaults."),
    processors.map((p) => p.element),
    h("details", { class: "of-card" }, h("summary", {}, "Storage settings"), storage.element),
    h("details", { class: "of-card" }, h("summary", {}, "API settings"), apiSettings.element),
    summary,
    h(
      "p",
      {},
      h("button", { type: "button", onclick: () => check().catch((e) => summary.replaceChildren(failure(e))) }, "Check"),
      " ",
      h("button", { type: "submit" }, "Create tenant"),
    ),
  );
  render(h("h1", {}, "Onboard a tenant"), form, result);
}

// ---- the tenant's dashboard ---------------------------------------------------------------------------------

async function dashboard(tenant) {
  const asAdmin = Boolean(adminToken());
  const withKey = Boolean(apiKey()) && savedTenant() === tenant;
  if (!asAdmin && !withKey) {
    render(notice("Open the dashboard with this tenant's API key or the admin token."), h("a", { href: "#/" }, "Sign in"));
    return;
  }
  localStorage.setItem(TENANT_ITEM, tenant);
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
  const fetchTenant = (path, adminPath) => (withKey ? tenantApi(tenant, path) : admin(adminPath));
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
    tenantApi(tenant, "/")
      .then((discovery) => liveFeed(feedBox, tenant, discovery))
      .catch((error) => feedBox.replaceChildren(failure(error)));
  } else {
    feedBox.replaceChildren(notice("The live feed runs over the tenant's GraphQL API: open the dashboard with its API key."));
  }
}

function showIngestion(box, status) {
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

function showUsage(box, report) {
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

async function showKeys(box, tenant) {
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

async function showWebhooks(box, tenant) {
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

// ---- live feed ------------------------------------------------------------------------------------------------

function liveFeed(box, tenant, discovery) {
  const fields = discovery.subscriptions || [];
  if (!fields.length) {
    box.replaceChildren(notice("This tenant's processors have no GraphQL subscription."));
    return;
  }
  const choice = h("select", { id: "feed-field" }, fields.map((s) => h("option", { value: s.field }, `${s.field} (${s.processor})`)));
  const state = h("p", { class: "of-feed-state", "aria-live": "polite" }, "Connecting…");
  const chart = h("div", { class: "of-chart" });
  const body = h("tbody");
  const rowsTable = h(
    "table",
    { class: "of-feed" },
    h("thead", {}, h("tr", {}, ["id", "ledger", "closed at", "row"].map((n) => h("th", { scope: "col" }, n)))),
    body,
  );
  box.replaceChildren(
    h("p", {}, h("label", { for: "feed-field" }, "Subscription "), choice),
    state,
    chart,
    h("div", { class: "of-feed-box" }, rowsTable),
  );

  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/${encodeURIComponent(tenant)}/graphql`;
  const client = createClient({
    url,
    connectionParams: () => ({ Authorization: `Bearer ${apiKey()}` }),
    lazy: true,
    retryAttempts: 3,
  });
  let perLedger = new Map();
  let unsubscribe = null;

  function start() {
    if (unsubscribe) unsubscribe();
    perLedger = new Map();
    body.replaceChildren();
    drawChart(chart, perLedger);
    const name = choice.value;
    state.textContent = `Subscribed to ${name}: rows appear as ledgers are ingested.`;
    unsubscribe = client.subscribe(
      { query: `subscription { ${name} { id ledgerSequence closedAt } }` },
      {
        next: (message) => {
          if (message.errors) {
            state.textContent = `Subscription error: ${message.errors.map((e) => e.message).join("; ")}`;
            return;
          }
          const row = message.data[name];
          perLedger.set(row.ledgerSequence, (perLedger.get(row.ledgerSequence) || 0) + 1);
          body.prepend(
            h(
              "tr",
              { class: "of-feed-row" },
              h("td", {}, h("code", {}, row.id)),
              h("td", {}, number(row.ledgerSequence)),
              h("td", {}, row.closedAt),
              h("td", {}, name),
            ),
          );
          while (body.children.length > FEED_ROWS) body.lastElementChild.remove();
          drawChart(chart, perLedger);
        },
        error: (error) => {
          state.textContent = `The subscription stopped: ${error?.reason || error?.message || "connection closed"}`;
        },
        complete: () => {},
      },
    );
  }
  choice.addEventListener("change", start);
  start();
  cleanup.push(() => {
    if (unsubscribe) unsubscribe();
    client.dispose();
  });
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

function drawChart(box, perLedger) {
  const ledgers = [...perLedger.keys()].sort((a, b) => a - b).slice(-CHART_LEDGERS);
  const width = 720;
  const height = 140;
  const pad = 24;
  if (!ledgers.length) {
    box.replaceChildren(h("p", { class: "of-hint" }, "Rows per ledger: waiting for the first row…"));
    return;
  }
  const most = Math.max(...ledgers.map((l) => perLedger.get(l)));
  const slot = (width - 2 * pad) / CHART_LEDGERS;
  const bars = ledgers.map((ledger, i) => {
    const count = perLedger.get(ledger);
    const barHeight = ((height - 2 * pad) * count) / most;
    return svg(
      "rect",
      { x: pad + i * slot + 1, y: height - pad - barHeight, width: Math.max(1, slot - 2), height: barHeight, class: "of-bar" },
      svg("title", {}, `ledger ${ledger}: ${count} row(s)`),
    );
  });
  box.replaceChildren(
    svg(
      "svg",
      { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Rows per ledger", class: "of-chart-svg" },
      svg("text", { x: pad, y: 14, class: "of-axis" }, `rows per ledger (max ${most})`),
      svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "of-axis-line" }),
      svg("text", { x: pad, y: height - 6, class: "of-axis" }, `ledger ${ledgers[0]}`),
      svg("text", { x: width - pad, y: height - 6, class: "of-axis", "text-anchor": "end" }, `ledger ${ledgers.at(-1)}`),
      ...bars,
    ),
  );
}

route();
