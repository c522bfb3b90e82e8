"""API key authentication for the tenant API (`/api/v1/{customer_id}/...`).

`Authorization: Bearer <key>`. A missing, unknown or revoked key is 401 with `WWW-Authenticate`. A valid key
of tenant A on tenant B's path is 404, the same answer as for a tenant that does not exist, so keys cannot be
used to discover other tenants. Every accepted and refused attempt goes to the audit log (tenant, key prefix,
path, status, client IP, time), never the key itself.

WebSocket upgrades (GraphQL subscriptions) are checked the same way when they carry the header; a refusal is
then the handshake's HTTP answer (the ASGI denial-response extension), as for any request. An upgrade without
the header goes through unauthenticated: the key comes in the protocol's ``connection_init`` and
`api.graphql_ws` checks it there with `authenticate`, closing the socket with 4401/4403 on refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import missing_api_key
from api.middleware.asgi import bearer_token, client_ip, header, send_error
from api.paths import TENANT_PREFIX, route_path, tenant_from_path
from api.public_pages import is_docs_path, is_graphiql_request
from api.state import AppState, Tenant, app_state
from core.errors import FlowError, NotFound, Unauthorized
from storage.api_keys import PREFIX_LENGTH, well_formed
from storage.audit import AuditEntry


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and the key (by id and prefix) with its scopes."""

    tenant: Tenant
    key_id: str
    key_prefix: str
    scopes: tuple[str, ...]

    def can_read(self, processor_name: str) -> bool:
        return "read:*" in self.scopes or f"read:{processor_name}" in self.scopes


def _public_page(scope: Scope, path_below_tenant: str) -> bool:
    # The docs page and GraphiQL are static pages, the same for every tenant id, holding no data; a browser
    # opening them sends no bearer header, so they are served without one and ask for the key themselves.
    if is_docs_path(path_below_tenant):
        return True
    accept = header(scope, b"accept") or ""
    return is_graphiql_request(
        scope.get("method", ""), path_below_tenant, scope.get("query_string", b""), accept
    )


class AuthRefusal(Exception):
    """A key refused: the error the client gets and the key's prefix for the audit log (None when the
    credential is not shaped like one of our keys)."""

    def __init__(self, error: FlowError, prefix: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.prefix = prefix


async def authenticate(state: AppState, tenant_id: str, secret: str) -> Principal:
    """The principal of `secret` on `tenant_id`'s API, or `AuthRefusal`: the one check of the HTTP middleware
    and of the WebSocket transport's ``connection_init`` (`api.graphql_ws`)."""
    if not secret:
        raise AuthRefusal(missing_api_key(), None)
    # Only something shaped like our keys leaves a prefix in the audit log: a pasted admin token or JWT
    # must not.
    prefix = secret[:PREFIX_LENGTH] if well_formed(secret) else None
    key = await state.verify_key(secret) if prefix else None
    if key is None:
        raise AuthRefusal(
            Unauthorized(
                "the API key is unknown or revoked",
                code="invalid_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="obsrvr-flow", error="invalid_token"'},
            ),
            prefix,
        )
    try:
        tenant = await state.tenant(tenant_id) if key.tenant_id == tenant_id else None
    except FlowError as exc:  # the tenant's stored config no longer validates: a 503, logged where raised
        raise AuthRefusal(exc, key.prefix) from exc
    if tenant is None:
        raise AuthRefusal(NotFound(f"no tenant '{tenant_id}'", code="tenant_not_found"), key.prefix)
    return Principal(tenant, key.id, key.prefix, key.scopes)


async def audit_auth(
    state: AppState,
    scope: Scope,
    tenant_id: str,
    status: int,
    *,
    refusal: AuthRefusal | None = None,
    principal: Principal | None = None,
) -> None:
    """Record an accepted (`principal`) or refused (`refusal`) attempt in the audit log."""
    if refusal is not None:
        entry = AuditEntry(
            action="auth.refused",
            actor="api_key" if refusal.prefix else "anonymous",
            tenant_id=tenant_id,
            key_prefix=refusal.prefix,
            method=scope.get("method", "WS"),
            path=scope["path"],
            status=status,
            client_ip=client_ip(scope),
            detail={"reason": refusal.error.code},
        )
    else:
        entry = AuditEntry(
            action="auth.accepted",
            actor="api_key",
            tenant_id=tenant_id,
            key_prefix=principal.key_prefix if principal is not None else None,
            method=scope.get("method", "WS"),
            path=scope["path"],
            status=status,
            client_ip=client_ip(scope),
        )
    await state.audit.record(entry)


class ApiKeyAuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        tenant_id = tenant_from_path(path)
        if tenant_id is None or _public_page(scope, path[len(TENANT_PREFIX) + len(tenant_id) + 1 :]):
            await self.app(scope, receive, send)
            return

        state = app_state(scope["app"])
        secret = bearer_token(scope)
        if not secret and scope["type"] == "websocket":
            # Browsers cannot set headers on a WebSocket: the key comes in the protocol's connection_init, where
            # the transport checks it with `authenticate` (and the allowlist and rate limit, as below).
            await self.app(scope, receive, send)
            return
        try:
            principal = await authenticate(state, tenant_id, secret)
        except AuthRefusal as refusal:
            await send_error(scope, receive, send, refusal.error)
            await audit_auth(state, scope, tenant_id, refusal.error.status, refusal=refusal)
            return

        scope.setdefault("state", {})["principal"] = principal
        status_holder = {"status": 500}

        async def send_and_watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            elif message["type"] == "websocket.accept":
                status_holder["status"] = 101
            elif message["type"] == "websocket.close" and status_holder["status"] == 500:
                status_holder["status"] = 403  # closed before accepting: refused by the app
            elif message["type"] == "websocket.http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            await audit_auth(state, scope, tenant_id, status_holder["status"], principal=principal)
