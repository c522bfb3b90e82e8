"""`GET /api/v1/{customer_id}/docs`: the tenant's API documentation in the browser, served by the service.

A small hand-written page (`api/static/docs.*`, no CDN: the service works offline) that asks for the API key,
keeps it in the tab's session storage, fetches the tenant's `openapi.json` with it and renders the routes,
their parameters and row fields, with a form to try each route. The page is the same static file for every
path and holds no tenant data, so it is public (a browser opening a URL sends no bearer header) and tells
nothing about which tenants exist.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from api.public_pages import DOCS_ASSETS
from core.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = DOCS_ASSETS
# The page and its assets come from this service only; the API calls go to the same origin.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8", headers=HEADERS)


async def asset(request: Request) -> Response:
    name = request.path_params["asset"]
    if name not in ASSETS:
        raise NotFound("no such asset")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=HEADERS)


routes = [
    Route("/docs", page, methods=["GET"]),
    Route("/docs/{asset}", asset, methods=["GET"]),
]
