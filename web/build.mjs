// Bundles the front-end assets the service serves (no CDN), from node_modules (installed from package-lock.json
// by `npm ci`): GraphiQL, React and the graphql-ws client into api/static/graphiql/, and the console (our own
// code and the graphql-ws client) into api/static/console/ (both git-ignored).
// Run through `make web`; `make dev`, .ci/run and the Dockerfile do.
import { build } from "esbuild";

// What every page's bundle shares: one self-contained IIFE script (and its CSS) per entry point.
const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  sourcemap: false,
  legalComments: "eof",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
};

await build({ ...common, entryPoints: { console: "web/console/main.js" }, outdir: "api/static/console" });

await build({
  ...common,
  entryPoints: { graphiql: "web/graphiql/main.jsx" },
  outdir: "api/static/graphiql",
  // Fonts and images referenced by GraphiQL's CSS go inline, so the page needs only its two files.
  loader: { ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".svg": "dataurl", ".png": "dataurl" },
  jsx: "automatic",
});
