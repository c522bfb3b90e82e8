"""GraphiQL, served offline: the page at the tenant's GraphQL path and its two bundled assets.

The assets (`graphiql.js`, `graphiql.css`: GraphiQL, React and the graphql-ws client, from the npm registry
through `package.json` and its lockfile) are built by `make web` into `api/static/graphiql/`, which is
git-ignored and never committed; `make dev`, CI (`.ci/run`) and the Dockerfile build them. Nothing is loaded
from a CDN. The page (`web/graphiql/main.jsx`) asks for the API key once, keeps it in the browser's local
storage, sends it as the ``Authorization`` header of queries and in the ``connection_init`` payload of
subscriptions (``graphql-transport-ws``), and says what the tenant can query, read from the tenant's schema
with that key.

For other pages (the console of issue 17): `web/build.mjs` bundles one output per entry point, so a page adds
its entry there and is built by the same `make web`; the key lives under the local-storage item
``obsrvr-flow:api-key``, so a page that already has it opens GraphiQL without asking again.

When the assets are not built the server still starts, and the page says how to build them. Like the docs
page, the HTML is the same for every tenant id and holds no data, so it is public (`api.public_pages`); the
assets live under `ASSETS_PATH`, outside any tenant's path, and are public too.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from api import bundles

BUNDLE = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/assets/graphiql"
ASSETS = {"graphiql.js": "text/javascript; charset=utf-8", "graphiql.css": "text/css; charset=utf-8"}
# Scripts and styles from this service only (GraphiQL's editor sets inline styles, its CSS inlines its fonts).
HEADERS = bundles.HEADERS
_PAGE = bundles.shell("GraphiQL", ASSETS_PATH, "graphiql", "graphiql", "Loading GraphiQL…")

_NOT_BUILT = bundles.not_built(
    "GraphiQL",
    "GraphiQL",
    'Meanwhile the API answers GraphQL requests at this URL: POST <code>{"query": "..."}</code> with the header\n'
    "<code>Authorization: Bearer &lt;your API key&gt;</code>, and subscriptions over WebSocket\n"
    '(<code>graphql-transport-ws</code>). The REST docs page is at <a href="docs">docs</a>.',
)


def built() -> bool:
    """Whether `make web` has built the assets."""
    return bundles.is_built(BUNDLE, ASSETS)


def page() -> Response:
    """The GraphiQL page, or the page saying how to build it (status 200 either way: the service is fine)."""
    return HTMLResponse(_PAGE if built() else _NOT_BUILT, headers=HEADERS)


async def asset(request: Request) -> Response:
    return bundles.asset_response(BUNDLE, ASSETS, request.path_params["name"], "GraphiQL's")


routes = [Route(ASSETS_PATH + "/{name}", asset, methods=["GET"])]
