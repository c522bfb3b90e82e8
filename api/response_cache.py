"""The response cache (issue 13): identical reads of a tenant within its `api.cache_ttl_seconds` are answered
from the cache store (`storage.cache`: Redis shared by the replicas, or bounded memory in the embedded mode)
without reading the data stores.

The REST list routes and GraphQL query operations call `ResponseCache.respond` from their handlers, so the
whole middleware chain (auth, allowlist, rate limits, usage, audit, body limit) and the route's scope check
have run before the cache is asked: a hit is counted, limited and audited like any request.

The key (`entry_key`) is a sha256 over: the tenant id, its `config_version` and creation time (a reconfigured
or re-created tenant never meets old entries), the key's scopes (sorted), the request's fingerprint (REST: the
method, path and query parameters sorted by name; GraphQL: the printed document, canonical variables and the
operation name) and the network's data version: its latest ledger (`QueryRouter.latest_ledger`, the
`Latest-Ledger` header's value) and its count of committed ledgers (`storage.ingest_totals`, which a backfill of
old ledgers moves too). Both are read from the database, where every ingest process commits them with its rows,
so a batch committed by any process makes the next identical request a miss once this process reads the new
values: within the router's `latest_ledger_ttl` (1 s, the header's; `QueryRouter.data_version` reads both parts
together, so one commit changes the key once). Entries live under ``resp:<tenant>:`` in the cache store.

Only answers that are complete and shared by everyone with the same key are stored: status 200 (GraphQL without
``errors``), a body of at most `max_entry_bytes`, and only when the data version read after computing it is the
one of the key (the body is then never newer than what `Latest-Ledger` says for a hit). A hit replays the
stored body byte for byte with ``X-Cache: hit``; a computed answer gets ``X-Cache: miss``; a tenant with a TTL of
0 gets neither. A store outage is a miss (the RedisBreaker logs it once), never an error.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from graphql import DocumentNode, print_ast
from starlette.requests import Request
from starlette.responses import Response

from api.paths import route_path
from storage.router import DataVersion, QueryRouter

if TYPE_CHECKING:
    from api.state import Tenant
    from storage.cache import Cache

HEADER = "X-Cache"
Computed = tuple[Response, bool]
"""A handler's fresh answer and whether it may be stored (its status and size are checked here)."""

NORMALIZED_DOCUMENTS = 4096
"""Printed-document digests remembered per process (by digest of the text as sent): 64 bytes each."""


def entry_key(tenant: Tenant, scopes: Sequence[str], fingerprint: bytes, version: DataVersion) -> str:
    """The cache key of a request by a key with `scopes`: the tenant id in clear (entries of one tenant share a
    prefix) and a sha256 of everything else, so a hostile path or document cannot make a large key."""
    record = tenant.record
    material = orjson.dumps(
        [
            record.id,
            record.config_version,
            record.created_at.isoformat(),
            sorted(scopes),
            version.latest_ledger,
            version.ledgers_committed,
            fingerprint.hex(),
        ]
    )
    return tenant_entries_prefix(record.id) + hashlib.sha256(material).hexdigest()


def tenant_entries_prefix(tenant_id: str) -> str:
    """What every cached response of the tenant's key starts with (a purge deletes them by it)."""
    return f"resp:{tenant_id}:"


def rest_fingerprint(request: Request) -> bytes:
    """A REST request: method, path as routed and query parameters sorted by name (repeated ones keep their
    order, which may matter to the route)."""
    params = sorted(request.query_params.multi_items(), key=lambda item: item[0])
    return hashlib.sha256(orjson.dumps(["rest", request.method, route_path(request.scope), params])).digest()


class _DocumentDigests:
    """sha256 of the printed form of a document (insignificant whitespace, commas and comments gone), remembered
    by digest of the text as sent: clients resend the same text, and printing is linear in its size."""

    def __init__(self, size: int = NORMALIZED_DOCUMENTS) -> None:
        self.size = size
        self._digests: OrderedDict[bytes, bytes] = OrderedDict()

    def digest(self, query: str, document: DocumentNode) -> bytes:
        sent = hashlib.sha256(query.encode()).digest()
        known = self._digests.get(sent)
        if known is not None:
            self._digests.move_to_end(sent)
            return known
        normalized = hashlib.sha256(print_ast(document).encode()).digest()
        self._digests[sent] = normalized
        if len(self._digests) > self.size:
            self._digests.popitem(last=False)
        return normalized


@dataclass(frozen=True)
class _Entry:
    media_type: str | None
    rows: int | None
    body: bytes

    def encode(self) -> bytes:
        # One JSON line of what the response needs besides its body, then the body as it was sent.
        return orjson.dumps({"media_type": self.media_type, "rows": self.rows}) + b"\n" + self.body

    @classmethod
    def decode(cls, value: bytes) -> _Entry | None:
        head, separator, body = value.partition(b"\n")
        if not separator:
            return None
        try:
            meta = orjson.loads(head)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(meta, dict):
            return None
        media_type, rows = meta.get("media_type"), meta.get("rows")
        return cls(
            media_type if isinstance(media_type, str) else None,
            rows if isinstance(rows, int) else None,
            body,
        )


class ResponseCache:
    """Serves a handler's answer from `store` when an identical request of the tenant was answered within its
    TTL and the network's data did not change since (see the module docstring)."""

    def __init__(
        self,
        store: Cache,
        router: QueryRouter,
        *,
        max_entry_bytes: int,
    ) -> None:
        self.store = store
        self.router = router
        self.max_entry_bytes = max_entry_bytes
        self._documents = _DocumentDigests()

    def graphql_fingerprint(
        self, query: str, document: DocumentNode, variables: Mapping[str, Any] | None, operation: str | None
    ) -> bytes:
        """A GraphQL request: its printed document, variables (keys sorted) and operation name. GET and POST of
        the same operation share entries."""
        parts = ["graphql", self._documents.digest(query, document).hex(), variables or {}, operation]
        return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).digest()

    async def version(self, network: str) -> DataVersion:
        """The network's data version (`QueryRouter.data_version`: both parts read together, once per second)."""
        return await self.router.data_version(network)

    async def respond(
        self,
        request: Request,
        tenant: Tenant,
        scopes: Sequence[str],
        fingerprint: bytes,
        compute: Callable[[], Awaitable[Computed]],
    ) -> tuple[Response, bool]:
        """The stored answer for `tenant` and a key with `scopes` (and True) or `compute()`'s (and False), stored
        when it may be. The handler's ``scope["state"]["rows"]`` (access log) is stored with it and restored on a
        hit."""
        ttl = tenant.config.customer.api.cache_ttl_seconds
        if ttl <= 0:
            response, _ = await compute()
            return response, False
        network = tenant.config.customer.network.value
        version = await self.version(network)
        key = entry_key(tenant, scopes, fingerprint, version)
        stored = await self.store.get(key)
        entry = _Entry.decode(stored) if stored is not None else None
        state = request.scope.setdefault("state", {})
        if entry is not None:
            if entry.rows is not None:
                state["rows"] = entry.rows
            return Response(entry.body, media_type=entry.media_type, headers={HEADER: "hit"}), True
        response, cacheable = await compute()
        response.headers[HEADER] = "miss"
        if (
            cacheable
            and response.status_code == 200
            and len(response.body) <= self.max_entry_bytes
            and await self.version(network) == version
        ):
            rows = state.get("rows")
            fresh = _Entry(response.media_type, rows if isinstance(rows, int) else None, bytes(response.body))
            await self.store.set(key, fresh.encode(), ttl)
        return response, False
