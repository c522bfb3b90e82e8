// Bundles the front-end assets the service serves (no CDN): GraphiQL, React and the graphql-ws client, from
// node_modules (installed from package-lock.json by `npm ci`), into api/static/graphiql/ (git-ignored).
// Run through `make web`; `make dev`, .ci/run and the Dockerfile do.
import { build } from "esbuild";

await build({
  entryPoints: { graphiql: "web/graphiql/main.jsx" },
  outdir: "api/static/graphiql",
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  sourcemap: false,
  legalComments: "eof",
  // Fonts and images referenced by GraphiQL's CSS go inline, so the page needs only its two files.
  loader: { ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".svg": "dataurl", ".png": "dataurl" },
  define: { "process.env.NODE_ENV": '"production"' },
  jsx: "automatic",
  logLevel: "warning",
});
