"""Pages whose script and style are bundled by `make web` (`web/build.mjs`, git-ignored output under
`api/static/<name>/`): GraphiQL and the console. One HTML shell and one set of headers for both: everything from
this service (no CDN), API calls and WebSockets to the same origin (`'self'` covers ws:/wss: to it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.responses import FileResponse, Response

from core.errors import NotFound

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def shell(title: str, assets_path: str, name: str, mount: str, loading: str) -> str:
    """The HTML of a bundled page: `<assets_path>/<name>.css` and `.js`, mounted on the element `mount`. The
    empty icon keeps browsers from asking for a favicon the service does not have."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Obsrvr Flow</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets_path}/{name}.css">
</head>
<body>
<div id="{mount}"><p style="margin:10vh auto;text-align:center">{loading}</p></div>
<script src="{assets_path}/{name}.js"></script>
</body>
</html>
"""


def not_built(what: str, whose: str, meanwhile: str) -> str:
    """The page served in place of a bundled one whose assets `make web` has not built: `what` is its name
    ("GraphiQL", "The console"), `whose` the possessive ("GraphiQL", "its console"), `meanwhile` an HTML
    paragraph's content saying where the same things are reachable without it."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{what} is not built · Obsrvr Flow</title></head>
<body style="font-family:system-ui,sans-serif;max-width:44em;margin:10vh auto;padding:0 1em;line-height:1.5">
<h1>{what} is not built</h1>
<p>This service serves {whose} from its own files, without a CDN, and they have not been built here.
Build them from the project's folder with <code>make web</code> (it needs Node.js and npm; <code>make dev</code>
runs it), then reload this page.</p>
<p>{meanwhile}</p>
</body>
</html>
"""


def is_built(folder: Path, assets: Mapping[str, str]) -> bool:
    """Whether `make web` has built every asset of a page into `folder`."""
    return all((folder / name).is_file() for name in assets)


def asset_response(folder: Path, assets: Mapping[str, str], name: str, whose: str) -> Response:
    """One built asset (`assets`: file name -> media type); any other name, or one not built, is a 404."""
    if name not in assets or not (folder / name).is_file():
        raise NotFound(f"no such asset ({whose} assets are built by `make web`)")
    return FileResponse(folder / name, media_type=assets[name], headers=HEADERS)
