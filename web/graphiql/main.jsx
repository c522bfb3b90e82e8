// GraphiQL for one tenant, served by the service itself (api/graphiql.py): the API key is asked for once and kept
// in localStorage, sent as the Authorization header of queries and in the WebSocket connection_init payload of
// subscriptions (graphql-transport-ws, through graphql-ws's createClient). The header line says what this tenant
// can query and subscribe to, read from its own schema.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { createClient } from "graphql-ws";
import { createRoot } from "react-dom/client";
import { useEffect, useState } from "react";
import "./page.css";

const KEY_ITEM = "obsrvr-flow:api-key";
const tenantId = (location.pathname.match(/\/api\/v1\/([^/]+)\/graphql/) || [])[1] || "";
const httpUrl = location.pathname.replace(/\/+$/, "");
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${httpUrl}`;

const OVERVIEW = `{ __schema {
  queryType { fields { name description } }
  subscriptionType { fields { name description } }
} }`;

async function overview(key) {
  const response = await fetch(httpUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: OVERVIEW }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.data) {
    const error = (body.error && body.error.message) || (body.errors && body.errors[0] && body.errors[0].message);
    throw new Error(error || `HTTP ${response.status}`);
  }
  const names = (type) => (type ? type.fields.map((f) => f.name).filter((n) => !n.startsWith("_")) : []);
  return { queries: names(body.data.__schema.queryType), subscriptions: names(body.data.__schema.subscriptionType) };
}

// "# Label: a, b, c" wrapped into comment lines of at most `width` characters.
function listed(label, names, width = 48) {
  const lines = [];
  let line = `# ${label}:`;
  for (const [i, name] of (names.length ? names : ["none"]).entries()) {
    const word = ` ${name}${i < names.length - 1 ? "," : ""}`;
    if (line.length + word.length > width) {
      lines.push(line);
      line = "#  ";
    }
    line += word;
  }
  lines.push(line);
  return lines;
}

function welcome({ queries, subscriptions }) {
  const lines = [
    `# Obsrvr Flow GraphQL for tenant "${tenantId}".`,
    "#",
    ...listed("Queries", queries),
    ...listed("Subscriptions (live rows over WebSocket)", subscriptions),
    "#",
    "# A subscription takes the query's filter and",
    "# after: <row id or cursor> to catch up first.",
    "# The Docs button lists every field and filter.",
    "# Run with Ctrl-Enter.",
    "",
  ];
  const first = queries[0];
  lines.push(first ? `{\n  ${first}(first: 5) {\n    edges { cursor node { id } }\n  }\n}\n` : "{ __typename }\n");
  if (subscriptions[0]) {
    lines.push(`# subscription { ${subscriptions[0]} { id } }`);
  }
  return lines.join("\n");
}

function KeyForm({ error, onKey }) {
  const [value, setValue] = useState("");
  return (
    <form
      className="of-key"
      onSubmit={(event) => {
        event.preventDefault();
        if (value.trim()) onKey(value.trim());
      }}
    >
      <h1>GraphiQL · {tenantId}</h1>
      <p>
        Paste an API key of this tenant (it starts with <code>ofk_</code>; <code>obsrvr-flow dev</code> prints one).
        It is kept in this browser&apos;s local storage and sent as <code>Authorization: Bearer …</code> with every
        query, and in the WebSocket <code>connection_init</code> of subscriptions.
      </p>
      <input
        name="api-key"
        aria-label="API key"
        type="password"
        autoComplete="off"
        value={value}
        onChange={(event) => setValue(event.target.value)}
        autoFocus
      />
      <button type="submit">Open GraphiQL</button>
      {error ? <p className="of-error" role="alert">{error}</p> : null}
    </form>
  );
}

function Explorer({ apiKey, schemaOverview, onForget }) {
  const [fetcher] = useState(() =>
    createGraphiQLFetcher({
      url: httpUrl,
      headers: { Authorization: `Bearer ${apiKey}` },
      wsClient: createClient({
        url: wsUrl,
        lazy: true,
        connectionParams: { Authorization: `Bearer ${apiKey}` },
      }),
    }),
  );
  return (
    <div className="of-page">
      <header className="of-bar">
        <strong>{tenantId}</strong>
        <span className="of-what">
          queries: {schemaOverview.queries.join(", ") || "none"} · subscriptions:{" "}
          {schemaOverview.subscriptions.join(", ") || "none"}
        </span>
        <button type="button" onClick={onForget}>
          Forget key
        </button>
      </header>
      <div className="of-graphiql">
        <GraphiQL fetcher={fetcher} defaultQuery={welcome(schemaOverview)} />
      </div>
    </div>
  );
}

function App() {
  const [state, setState] = useState({ key: localStorage.getItem(KEY_ITEM), overview: null, error: null });
  const tryKey = (key) => {
    overview(key).then(
      (found) => {
        localStorage.setItem(KEY_ITEM, key);
        setState({ key, overview: found, error: null });
      },
      (error) => {
        localStorage.removeItem(KEY_ITEM);
        setState({ key: null, overview: null, error: `That key was refused: ${error.message}` });
      },
    );
  };
  useEffect(() => {
    if (state.key) tryKey(state.key); // a key kept from an earlier visit: check it once
  }, []);
  if (state.key && state.overview) {
    return (
      <Explorer
        apiKey={state.key}
        schemaOverview={state.overview}
        onForget={() => {
          localStorage.removeItem(KEY_ITEM);
          setState({ key: null, overview: null, error: null });
        }}
      />
    );
  }
  if (state.key && !state.error) return <p className="of-loading">Checking the key…</p>;
  return <KeyForm error={state.error} onKey={tryKey} />;
}

createRoot(document.getElementById("graphiql")).render(<App />);
