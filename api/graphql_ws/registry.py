"""The GraphQL WebSocket connections open in this API replica: counted per tenant (its
`max_websocket_connections` cap) and watched for revoked keys.

A key revoked (or its tenant deleted) while connections use it is noticed by one check per distinct key every
`auth_cache_seconds` (at least every second), read from the database itself rather than the key cache, and
its connections are closed with 4401: within `auth_cache_seconds` of the revocation, at one indexed read per
distinct key per interval whatever the number of connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from api.graphql_ws.ticker import Ticker
from storage.api_keys import ApiKey

log = logging.getLogger("obsrvr_flow.api")

MIN_RECHECK_SECONDS = 1.0

Revoke = Callable[[], Awaitable[None]]
Verify = Callable[[str], Awaitable[ApiKey | None]]


@dataclass
class _Watched:
    secret: str
    tenant_id: str
    revokes: dict[int, Revoke] = field(default_factory=dict)


class Connections:
    def __init__(self, verify: Verify, recheck_seconds: float) -> None:
        self._verify = verify
        self.recheck_seconds = max(recheck_seconds, MIN_RECHECK_SECONDS)
        self._per_tenant: Counter[str] = Counter()
        self._keys: dict[bytes, _Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._tickers: dict[float, Ticker] = {}

    def ticker(self, period: float) -> Ticker:
        """The timer shared by the connections ticking every `period` seconds (`ticker.Ticker`)."""
        found = self._tickers.get(period)
        if found is None:
            found = self._tickers[period] = Ticker(period)
        return found

    def count(self, tenant_id: str) -> int:
        return self._per_tenant[tenant_id]

    def admit(self, handle: int, tenant_id: str, secret: str, limit: int, revoke: Revoke) -> bool:
        """Count connection `handle` of the tenant (False, nothing counted, at its `limit`) and watch its key:
        `revoke()` is awaited if the key stops being valid."""
        if self._per_tenant[tenant_id] >= limit:
            return False
        self._per_tenant[tenant_id] += 1
        digest = hashlib.sha256(secret.encode()).digest()
        self._keys.setdefault(digest, _Watched(secret, tenant_id)).revokes[handle] = revoke
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="graphql-ws-key-watch")
        return True

    def release(self, handle: int, tenant_id: str, secret: str) -> None:
        self._per_tenant[tenant_id] -= 1
        if self._per_tenant[tenant_id] <= 0:
            del self._per_tenant[tenant_id]
        digest = hashlib.sha256(secret.encode()).digest()
        watched = self._keys.get(digest)
        if watched is not None:
            watched.revokes.pop(handle, None)
            if not watched.revokes:
                del self._keys[digest]

    async def recheck(self) -> int:
        """Check every watched key once; returns how many connections were told their key is gone."""
        told = 0
        for digest, watched in list(self._keys.items()):
            try:
                key = await self._verify(watched.secret)
            except Exception:  # an outage is not a revocation: keep the connections, check again later
                log.warning("could not recheck a WebSocket connection's API key", exc_info=True)
                continue
            if key is not None and key.tenant_id == watched.tenant_id:
                continue
            self._keys.pop(digest, None)
            revokes = list(watched.revokes.values())
            told += len(revokes)
            await asyncio.gather(*(revoke() for revoke in revokes), return_exceptions=True)
        return told

    async def _watch(self) -> None:
        while self._keys:
            await asyncio.sleep(self.recheck_seconds)
            await self.recheck()

    async def close(self) -> None:
        for ticker in self._tickers.values():
            await ticker.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
