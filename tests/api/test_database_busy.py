"""A write SQLite refuses for now (the embedded mode's one writer at a time: the live tail committing while a
request reads then writes) is a 503 `database_busy` with `Retry-After: 1`, never a 500; nothing was written."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from api.middleware.database_outage import DatabaseOutageMiddleware
from tests.storage.test_db import TwoWriters


def test_a_refused_write_is_503_database_busy(tmp_path: Path) -> None:
    writers = TwoWriters(tmp_path / "flow.db")

    async def write(_request: Request) -> JSONResponse:
        await writers.setup()
        try:
            await writers.conflicting_write(conflicts=1)
            return JSONResponse({"ok": True})
        finally:
            await writers.dispose()

    app = Starlette(
        routes=[Route("/write", write, methods=["POST"])], middleware=[Middleware(DatabaseOutageMiddleware)]
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/write")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "database_busy"
