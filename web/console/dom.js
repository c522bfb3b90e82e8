// The console's small helpers: DOM building, credentials in browser storage, calls to the service's JSON APIs,
// number formatting and the common blocks (tables, notices).

export const KEY_ITEM = "obsrvr-flow:api-key"; // shared with GraphiQL (web/graphiql/main.jsx)
export const TENANT_ITEM = "obsrvr-flow:tenant";
export const ADMIN_ITEM = "obsrvr-flow:admin-token"; // session storage: the operator's credential ends with the tab
export function h(tag, attrs = {}, ...children) {
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

export const adminToken = () => sessionStorage.getItem(ADMIN_ITEM) || "";
export const apiKey = () => localStorage.getItem(KEY_ITEM) || "";
export const savedTenant = () => localStorage.getItem(TENANT_ITEM) || "";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, credential } = {}) {
  const headers = { Accept: "application/json" };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const admin = (path, options = {}) => api(path, { ...options, credential: adminToken() });
// `credential`: the key a dashboard opened with (another tab may save another key meanwhile), else the saved one.
export const tenantApi = (tenant, path, credential = apiKey()) =>
  api(`/api/v1/${encodeURIComponent(tenant)}${path}`, { credential });

export function number(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 120) return `${value.toFixed(1)} s`;
  if (value < 7200) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

export function bytes(value) {
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
export function prose(text) {
  return text.split(/``?([^`]+)``?/).map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

export function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
  );
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), ...children);
}

export function notice(text, kind = "note") {
  return h("p", { class: `of-${kind}`, role: kind === "error" ? "alert" : null }, text);
}

export function failure(error) {
  return notice(error instanceof ApiError ? `${error.message} (HTTP ${error.status})` : String(error), "error");
}
