"""GraphiQL served offline (`api.graphiql`): the page and its assets come from the service, and without the built
assets the server still answers, saying how to build them. The page in Chromium against the real `obsrvr-flow dev`
(key asked once, queries and the subscription's connection_init carry it, live rows arrive) is tested with the
other pages in tests/test_browser_pages.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api import graphiql

PAGE = "/api/v1/acme-wallet/graphql"
HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The built assets: absent Node.js/npm skip (saying so); with them, the assets must be built (`make web`)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: GraphiQL's assets cannot be built here (make web)")
    if not graphiql.built():
        pytest.fail(f"GraphiQL's assets are not built in {graphiql.BUNDLE}: run `make web` (CI does)")
    return graphiql.BUNDLE


def test_without_the_assets_the_page_says_how_to_build_them(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(graphiql, "BUNDLE", tmp_path)
    page = client.get(PAGE, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "GraphiQL is not built" in page.text and "make web" in page.text
    assert "<script" not in page.text
    missing = client.get(f"{graphiql.ASSETS_PATH}/graphiql.js")
    assert missing.status_code == 404 and "make web" in missing.json()["error"]["message"]


def test_the_page_and_its_assets_come_from_the_service(client: TestClient, bundle: Path) -> None:
    page = client.get(PAGE, headers=HTML)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # Only the service's own assets: no CDN, no absolute URL at all.
    assert f'src="{graphiql.ASSETS_PATH}/graphiql.js"' in page.text and "//" not in page.text.replace(
        "<!--", ""
    )
    for name, media in (("graphiql.js", "text/javascript"), ("graphiql.css", "text/css")):
        asset = client.get(f"{graphiql.ASSETS_PATH}/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        assert asset.content == (bundle / name).read_bytes()
    assert client.get(f"{graphiql.ASSETS_PATH}/..%2Fdocs.js").status_code == 404
    assert client.get(f"{graphiql.ASSETS_PATH}/other.js").status_code == 404
