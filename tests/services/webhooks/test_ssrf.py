"""The SSRF guard: only public addresses, checked at registration and at every connection."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

import pytest

from core.errors import BadRequest, render_error
from services.webhooks.ssrf import (
    WebhookUrlRefused,
    check_url,
    is_public_address,
    resolve_checked,
)


def answering(*addresses: str):
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "0.1.2.3",
        "192.0.0.8",
        "224.0.0.1",
        "239.1.1.1",
        "255.255.255.255",
        "198.18.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


async def test_public_https_url_is_accepted() -> None:
    resolver = answering("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    checked = await check_url("https://hooks.example.com/in?x=1", allow_private=False, resolver=resolver)
    assert checked.host == "hooks.example.com" and checked.port == 443 and checked.scheme == "https"
    assert checked.addresses == ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert resolver.calls == [("hooks.example.com", 443)]  # type: ignore[attr-defined]
    checked = await check_url("https://hooks.example.com:8443/", allow_private=False, resolver=resolver)
    assert checked.port == 8443


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "scheme must be https"),
        ("ftp://hooks.example.com/", "scheme must be https"),
        ("hooks.example.com/path", "scheme must be https"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https:///path", "no host"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://hooks.example.com/ x", "whitespace"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("", "at most"),
        ("https://a.example/" + "x" * 3000, "at most"),
        ("https://127.0.0.1/", "non-public address (127.0.0.1)"),
        ("https://[::1]:8443/", "non-public address (::1)"),
        ("https://169.254.169.254/latest/meta-data", "non-public"),
    ],
)
async def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(WebhookUrlRefused, match=re.escape(reason)) as info:
        await check_url(url, allow_private=False, resolver=answering("93.184.216.34"))
    rendered = render_error(info.value, "req-1")
    assert isinstance(info.value, BadRequest)
    assert rendered.status == 400
    assert rendered.body["error"]["code"] == "webhook_url_refused"
    assert rendered.body["error"]["parameter"] == "url"


async def test_one_private_address_among_public_ones_refuses() -> None:
    with pytest.raises(WebhookUrlRefused, match=r"non-public address \(10.0.0.5\)"):
        await check_url(
            "https://mixed.example.com/", allow_private=False, resolver=answering("93.184.216.34", "10.0.0.5")
        )


async def test_unresolvable_host_is_refused() -> None:
    async def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        await check_url("https://nowhere.invalid/", allow_private=False, resolver=failing)
    with pytest.raises(WebhookUrlRefused, match="does not resolve"):
        await check_url("https://empty.example.com/", allow_private=False, resolver=answering())


async def test_rebinding_is_refused_at_connection_time() -> None:
    """Registration saw a public address; the same host answering 127.0.0.1 later is refused at connect."""
    assert await resolve_checked(
        "hooks.example.com", 443, allow_private=False, resolver=answering("93.184.216.34")
    ) == ["93.184.216.34"]
    with pytest.raises(WebhookUrlRefused, match=r"127\.0\.0\.1"):
        await resolve_checked("hooks.example.com", 443, allow_private=False, resolver=answering("127.0.0.1"))


async def test_allow_private_permits_http_and_loopback() -> None:
    checked = await check_url(
        "http://localhost:8080/hook", allow_private=True, resolver=answering("127.0.0.1")
    )
    assert checked.port == 8080 and checked.addresses == ("127.0.0.1",)
    # The real system resolver: localhost resolves without the network.
    local = await resolve_checked("localhost", 80, allow_private=True)
    assert set(local) & {"127.0.0.1", "::1"}
    with pytest.raises(WebhookUrlRefused, match="non-public"):
        await resolve_checked("localhost", 80, allow_private=False)
    with pytest.raises(WebhookUrlRefused, match="scheme"):
        await check_url("gopher://localhost/", allow_private=True, resolver=answering("127.0.0.1"))
