// Onboarding (admin token): processors from the catalogue with their generated forms, storage and API settings,
// the parser's problems next to their fields, and the new key shown once with the tenant's links.
import { admin, adminToken, failure, h, KEY_ITEM, notice, prose, TENANT_ITEM } from "./dom.js";
import { field, objectForm } from "./forms.js";
import { render } from "./layout.js";

export async function onboarding() {
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
