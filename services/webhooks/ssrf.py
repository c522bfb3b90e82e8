"""Webhook URLs may only reach the public internet (server-side request forgery guard).

A tenant chooses the URL we POST to, so without a guard it could make the service call its own database, the
cloud metadata service or anything else on the private network. The rule: the URL is ``https`` (``http`` only
with `Settings.webhook_allow_private`), has no credentials, and EVERY address its host resolves to (all A and
AAAA records) is globally routable. It is checked twice:

- at registration, `check_url` refuses the URL with a 400 ``webhook_url_refused`` naming the reason;
- at each connection, the sender calls `resolve_checked` and connects to one of the addresses it returns (the
  Host header and TLS SNI stay the hostname), so a DNS answer that changes after registration (rebinding to
  127.0.0.1) is refused too rather than followed.

With `webhook_allow_private` (local development, tests) every resolvable address is allowed. The resolver is
injectable so tests can answer with any address without touching DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import BadRequest

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) -> the addresses it resolves to, as strings."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0

# Ranges `is_global` lets through in some Python versions, or that embed another address; listed so the rule
# does not depend on the interpreter's table.
_BLOCKED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "100::/64",  # discard
        "2001:db8::/32",
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class WebhookUrlRefused(BadRequest):
    """400: the webhook URL is not one we will send to (scheme, credentials, or a non-public address)."""

    code = "webhook_url_refused"

    def __init__(self, reason: str, *, parameter: str = "url") -> None:
        super().__init__(f"{parameter}: {reason}", details={"parameter": parameter, "reason": reason})
        self.reason = reason


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str  # without brackets for IPv6 literals
    port: int
    addresses: tuple[str, ...]  # what the host resolved to when checked


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Every address of `host` (A and AAAA) through the operating system's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is globally routable: not private, loopback, link-local, shared, multicast, reserved
    or documentation space, including IPv4 addresses carried inside IPv6 (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the connection goes to the IPv4 address itself
            return is_public_address(address.ipv4_mapped)
        embedded = address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    if any(address in net for net in _BLOCKED if net.version == address.version):
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def resolve_checked(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> list[str]:
    """The addresses to connect to for `host`: all of them public (else `WebhookUrlRefused`), or, with
    `allow_private`, whatever it resolves to. An IP literal is not resolved."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found: Sequence[str] = [str(literal)]
    else:
        try:
            found = await asyncio.wait_for((resolver or system_resolver)(host, port), RESOLVE_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise WebhookUrlRefused(f"host {host!r} does not resolve") from exc
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]  # drop an IPv6 zone id
    if not addresses:
        raise WebhookUrlRefused(f"host {host!r} does not resolve")
    if not allow_private:
        refused = [str(a) for a in addresses if not is_public_address(a)]
        if refused:
            raise WebhookUrlRefused(f"host {host!r} resolves to a non-public address ({', '.join(refused)})")
    return [str(a) for a in addresses]


async def check_url(
    url: str, *, allow_private: bool, resolver: Resolver | None = None, resolve: bool = True
) -> CheckedUrl:
    """Validate a webhook URL at registration; `WebhookUrlRefused` (400) says why it is refused.

    `resolve=False` checks without DNS (the scheme, credentials, an IP literal, ``localhost``): for the tenant
    YAML's ``webhook_url``, which must apply where the customer's name does not resolve (yet); its addresses are
    checked at each connection like every endpoint's. `CheckedUrl.addresses` is then empty for a name."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"must be a URL of at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise WebhookUrlRefused("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise WebhookUrlRefused(f"is not a valid URL ({exc})") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise WebhookUrlRefused(f"scheme must be {' or '.join(allowed)}, not {scheme or 'missing'!r}")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRefused("must not contain credentials (user:password@)")
    if not host:
        raise WebhookUrlRefused("has no host")
    if parts.fragment:
        raise WebhookUrlRefused("must not have a fragment (#...)")
    port = port or (443 if scheme == "https" else 80)
    if not resolve and not _is_literal(host):
        if not allow_private and (
            host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost")
        ):
            raise WebhookUrlRefused(f"host {host!r} is the local machine")
        return CheckedUrl(url=url, scheme=scheme, host=host, port=port, addresses=())
    addresses = await resolve_checked(host, port, allow_private=allow_private, resolver=resolver)
    return CheckedUrl(url=url, scheme=scheme, host=host, port=port, addresses=tuple(addresses))
