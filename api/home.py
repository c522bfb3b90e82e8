"""`GET /`: what this service is and where things are, for whoever opens its address first.

A browser (`Accept: text/html`) gets a small page linking the console, a tenant's docs and GraphiQL (the tenant id
typed in the page: the page knows no tenant), health and readiness, and the list of what is served
(`core.served`); an API client gets the same as JSON. No credential is needed and the answer holds no data: it
is the same for everyone and tells nothing about which tenants exist.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core.served import SERVED

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"home.js": "text/javascript", "home.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def wants_html(accept: str) -> bool:
    """Whether the client asked for HTML before JSON (a browser's `text/html,...`); `*/*` alone means JSON."""
    html_at = accept.find("text/html")
    json_at = accept.find("application/json")
    return html_at != -1 and (json_at == -1 or html_at < json_at)


def home_json() -> dict[str, object]:
    return {
        "service": "Obsrvr Flow",
        "description": "Stellar ledger data per tenant: REST, GraphQL (subscriptions over WebSocket), webhooks",
        "served": [
            {"name": s.name, "path": s.path, "description": s.description, "public": s.public} for s in SERVED
        ],
        "links": {
            "console": "/console",
            "discovery": "/api/v1/{customer_id}/",
            "docs": "/api/v1/{customer_id}/docs",
            "graphql": "/api/v1/{customer_id}/graphql",
            "openapi": "/api/v1/{customer_id}/openapi.json",
            "health": "/healthz",
            "readiness": "/readyz",
        },
    }


def code_spans(text: str) -> str:
    """`text` escaped, its Markdown `code` spans as <code>."""
    parts = [html.escape(part) for part in text.split("`")]
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def home_html() -> str:
    rows = "\n".join(
        f'<tr><th>{html.escape(s.name)}</th><td class="path"><code>{html.escape(s.path)}</code></td>'
        f"<td>{code_spans(s.description)}</td></tr>"
        for s in SERVED
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Obsrvr Flow</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/home.css">
</head>
<body>
  <header>
    <h1>Obsrvr Flow</h1>
    <p>Stellar ledger data per tenant: REST, GraphQL with subscriptions over WebSocket, and webhooks.</p>
  </header>
  <main>
    <p class="start"><a id="console-link" href="/console">Open the console</a>: onboarding and the tenant dashboard.</p>
    <form id="tenant-form" autocomplete="off">
      <label for="tenant-id">Tenant id</label>
      <input id="tenant-id" name="tenant" placeholder="acme-wallet" spellcheck="false" required>
      <button type="submit" name="to" value="docs">REST docs</button>
      <button type="submit" name="to" value="graphql">GraphiQL</button>
    </form>
    <p>Health: <a href="/healthz">/healthz</a> · readiness: <a href="/readyz">/readyz</a>.
      API clients: <code>GET /</code> with <code>Accept: application/json</code> lists the same as JSON.</p>
    <h2>What is served</h2>
    <table>
{rows}
    </table>
  </main>
  <script src="/home.js"></script>
</body>
</html>
"""


async def home(request: Request) -> Response:
    if wants_html(request.headers.get("accept", "")):
        return HTMLResponse(home_html(), headers=HEADERS)
    return JSONResponse(home_json())


def home_asset(name: str) -> Callable[[Request], Awaitable[Response]]:
    """The route of one asset, its name bound here (the request's path may carry a root path before it)."""

    async def serve(_request: Request) -> Response:
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=HEADERS)

    return serve


routes = [
    Route("/", home, methods=["GET"]),
    *(Route(f"/{name}", home_asset(name), methods=["GET"]) for name in ASSETS),
]
