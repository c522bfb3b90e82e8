"""Which tenant paths are public pages: static pages the same for every tenant id, holding no data, that a
browser opens without a bearer header and that ask for the API key themselves (the docs page and its assets,
GraphiQL). The auth middleware lets exactly these through; their routes serve them."""

from __future__ import annotations

DOCS_ASSETS = {"docs.js": "text/javascript", "docs.css": "text/css"}


def is_docs_path(path_below_tenant: str) -> bool:
    """Whether a path below `/api/v1/{customer_id}/` is the public docs page or one of its assets."""
    return path_below_tenant in ("docs", "docs/") or path_below_tenant.removeprefix("docs/") in DOCS_ASSETS


def is_graphiql_request(method: str, path_below_tenant: str, query_string: bytes, accept: str) -> bool:
    """A browser asking for the GraphiQL page: GET ``graphql`` with ``Accept: text/html`` and no ``query``.

    The page is the same static HTML for every tenant id and holds no data, so it is served without a key (a
    browser opening a URL sends none; the auth middleware lets it through); every query it then sends carries
    the key from GraphiQL's headers pane and is authenticated as usual.
    """
    return (
        method == "GET"
        and path_below_tenant.rstrip("/") == "graphql"
        and "text/html" in accept
        and b"query=" not in query_string
    )
