// The page frame and the view switch: a view renders into the frame; what it started (timers, the live feed's
// subscription) is stopped when the next view renders.
import { h, savedTenant } from "./dom.js";

export const root = document.getElementById("console");
export const cleanup = []; // what the current view must stop when another one opens

export function shell(...content) {
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

export function render(...content) {
  for (const stop of cleanup.splice(0)) stop();
  root.replaceChildren(shell(...content));
}
