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
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from core.errors import NotFound

BUNDLE = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/assets/graphiql"
ASSETS = {"graphiql.js": "text/javascript; charset=utf-8", "graphiql.css": "text/css; charset=utf-8"}
# Scripts and styles from this service only; the API calls and the subscription WebSocket go to the same origin
# (`'self'` covers ws:/wss: to it). GraphiQL's editor sets inline styles, and its CSS inlines its fonts.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · Obsrvr Flow</title>
<link rel="stylesheet" href="{ASSETS_PATH}/graphiql.css">
</head>
<body>
<div id="graphiql"><p style="margin:10vh auto;text-align:center">Loading GraphiQL…</p></div>
<script src="{ASSETS_PATH}/graphiql.js"></script>
</body>
</html>
"""

_NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphiQL is not built · Obsrvr Flow</title></head>
<body style="font-family:system-ui,sans-serif;max-width:44em;margin:10vh auto;padding:0 1em;line-height:1.5">
<h1>GraphiQL is not built</h1>
<p>This service serves GraphiQL from its own files, without a CDN, and they have not been built here.
Build them from the project's folder with <code>make web</code> (it needs Node.js and npm; <code>make dev</code>
runs it), then reload this page.</p>
<p>Meanwhile the API answers GraphQL requests at this URL: POST <code>{"query": "..."}</code> with the header
<code>Authorization: Bearer &lt;your API key&gt;</code>, and subscriptions over WebSocket
(<code>graphql-transport-ws</code>). The REST docs page is at <a href="docs">docs</a>.</p>
</body>
</html>
"""


def built() -> bool:
    """Whether `make web` has built the assets."""
    return all((BUNDLE / name).is_file() for name in ASSETS)


def page() -> Response:
    """The GraphiQL page, or the page saying how to build it (status 200 either way: the service is fine)."""
    return HTMLResponse(_PAGE if built() else _NOT_BUILT, headers=HEADERS)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS or not (BUNDLE / name).is_file():
        raise NotFound("no such asset (GraphiQL's assets are built by `make web`)")
    return FileResponse(BUNDLE / name, media_type=ASSETS[name], headers=HEADERS)


routes = [Route(ASSETS_PATH + "/{name}", asset, methods=["GET"])]
