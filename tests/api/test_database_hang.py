"""PostgreSQL hanging rather than refusing (a host that stops answering): connects time out after 5 s each while
holding their pool slots, and the requests queued behind them must answer 503 `database_unavailable` within the
API's short `database_pool_timeout_seconds`, not after SQLAlchemy's default 30 s.

The database sits behind a TCP relay in this process, which forwards to the migrated test database until it is
told to hang: then it drops the connections it relays and leaves new ones unanswered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from obsrvr_flow.wiring import build_app
from tests.api.helpers import ADMIN, settings_for

REQUESTS = 40  # more than the pool holds (10 + 20 overflow): some wait for a slot


class Relay:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.hanging = False
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def hang(self) -> None:
        self.hanging = True
        for writer in list(self.writers):
            writer.close()

    async def close(self) -> None:
        await self.hang()
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            if self.hanging:
                await reader.read()  # never answers; returns when the client gives up
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self.writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except OSError:
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def test_a_hanging_database_answers_503_within_seconds(migrated_pg: str) -> None:
    url = make_url(migrated_pg)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    port = await relay.start()
    app = build_app(settings_for(url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
                assert (await api.get("/admin/tenants", headers=ADMIN)).status_code == 200
                await relay.hang()

                async def timed() -> tuple[httpx.Response, float]:
                    began = time.monotonic()
                    response = await api.get("/admin/tenants", headers=ADMIN)
                    return response, time.monotonic() - began

                answers: list[tuple[Any, float]] = await asyncio.gather(*(timed() for _ in range(REQUESTS)))
    finally:
        await relay.close()
    for response, _ in answers:
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        assert int(response.headers["Retry-After"]) > 0
    slowest = max(seconds for _, seconds in answers)
    # A connect times out after 5 s and a queued request waits 3 s for a slot; 30 s is the pool's default.
    assert slowest < 15, f"the slowest request took {slowest:.1f} s to fail"
