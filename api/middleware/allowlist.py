"""Per-tenant IP allowlist (`customer.api.allowed_ips`); an empty list allows every address."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware.asgi import client_ip, send_error
from api.middleware.auth import Principal
from core.errors import Forbidden


@lru_cache(maxsize=4096)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def ip_allowed(ip: str | None, cidrs: tuple[str, ...]) -> bool:
    if not cidrs:
        return True
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(cidrs))


def allowlist_refusal(scope: Scope, principal: Principal) -> Forbidden | None:
    """The refusal of a caller whose address the tenant's `allowed_ips` does not allow (HTTP requests,
    WebSocket upgrades, and keys sent in a WebSocket's connection_init alike), or None."""
    cidrs = tuple(str(c) for c in principal.tenant.config.customer.api.allowed_ips)
    ip = client_ip(scope)
    if ip_allowed(ip, cidrs):
        return None
    return Forbidden(f"requests from {ip} are not allowed", code="ip_not_allowed")


class IpAllowlistMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] != "lifespan" else None
        refusal = allowlist_refusal(scope, principal) if principal is not None else None
        if refusal is not None:
            await send_error(scope, receive, send, refusal)
            return
        await self.app(scope, receive, send)
