// The live feed: the tenant's newest rows over its GraphQL subscription (graphql-ws, key in connection_init), and
// a chart of rows per ledger (SVG of our own).
import { createClient } from "graphql-ws";
import { h, notice, number } from "./dom.js";
import { cleanup } from "./layout.js";

const FEED_ROWS = 20; // rows kept in the live feed's table
const CHART_LEDGERS = 30; // ledgers shown in the rows-per-ledger chart

export function liveFeed(box, tenant, discovery, key) {
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
    connectionParams: () => ({ Authorization: `Bearer ${key}` }),
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

export const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

export function drawChart(box, perLedger) {
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
