// The console (issue 17): onboarding with forms generated from the processors' JSON Schemas, a tenant's dashboard
// (ingestion, usage and cost, keys, webhooks) and a live feed of its newest rows over the GraphQL subscription.
// Plain DOM code of our own plus the graphql-ws client, bundled by web/build.mjs; served by api/console.py.
import "./console.css";
import { dashboard } from "./dashboard.js";
import { ADMIN_ITEM, adminToken, apiKey, h, KEY_ITEM, savedTenant, TENANT_ITEM } from "./dom.js";
import { render } from "./layout.js";
import { onboarding } from "./onboarding.js";

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
  // The saved key is offered only for its own tenant: naming another tenant clears it (unless typed anew), so an
  // admin visit to another tenant is not sent with a key that the API would refuse for it.
  const pairKeyWithTenant = () => {
    if (tenant.value.trim() === savedTenant()) {
      if (!key.value) key.value = apiKey();
    } else if (key.value === apiKey()) {
      key.value = "";
    }
  };
  const tenant = h("input", { id: "tenant-id", autocomplete: "off", value: savedTenant(), oninput: pairKeyWithTenant });
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", value: apiKey() });
  // The key stays in this browser (GraphiQL reads it too) until it is forgotten here: on a shared computer, or
  // after the key was revoked, the user removes it without opening the browser's developer tools.
  const forget = h(
    "button",
    {
      type: "button",
      disabled: !apiKey(),
      onclick: () => {
        localStorage.removeItem(KEY_ITEM);
        localStorage.removeItem(TENANT_ITEM);
        key.value = "";
        forget.disabled = true;
      },
    },
    "Forget the saved key",
  );
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
          // The saved pair is a key and its tenant (GraphiQL reads both): an admin visit to another tenant,
          // without a key, leaves the pair alone rather than pairing the saved key with the wrong tenant.
          if (key.value.trim()) {
            localStorage.setItem(TENANT_ITEM, tenant.value.trim());
            localStorage.setItem(KEY_ITEM, key.value.trim());
          }
          location.hash = `#/tenants/${encodeURIComponent(tenant.value.trim())}`;
        },
      },
      h("h2", {}, "Tenant"),
      h("label", { for: "tenant-id" }, "Tenant id"),
      tenant,
      h("label", { for: "api-key" }, "API key"),
      key,
      h("button", { type: "submit" }, "Open the dashboard"),
      forget,
    ),
  );
}

route();
