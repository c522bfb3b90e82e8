"""One HTTP attempt of a webhook message, bounded whatever the receiver does.

- The host is resolved and checked again at every attempt (`services.webhooks.ssrf.resolve_checked`) and the
  connection goes to the checked address: the URL's host is swapped for the IP, the ``Host`` header and the TLS
  SNI (and so the certificate check) stay the hostname. A name that resolved to a public address at registration
  and to 127.0.0.1 now (DNS rebinding) is refused before any connection is made.
- One deadline covers the whole attempt, resolution to the last byte read (`webhook_timeout_seconds`): a
  receiver that accepts the connection and never answers, or trickles its answer, costs that much and no more.
- The answer's body is read up to `webhook_max_response_bytes` (raw, never decompressed) and the connection is
  then dropped; the first KiB is kept for the delivery log.
- Redirects are not followed: a 3xx is a failed attempt (following one would reach an unchecked address).

A `Sender` serves one endpoint (one delivery job): its connection pool is keyed by the pinned IP, so sharing it
across endpoints could reuse a TLS connection made for another host name on the same address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.webhooks.signing import SigningKeys, signature_header
from services.webhooks.ssrf import Resolver, WebhookUrlRefused, resolve_checked

SNIPPET_BYTES = 1024
USER_AGENT = "obsrvr-flow-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to. `status_code` is None when no answer came (refused, timeout, blocked)."""

    success: bool
    status_code: int | None
    error: str | None
    snippet: str | None
    duration_ms: int
    retry_after: str | None = None  # the receiver's Retry-After header, as sent
    gone: bool = False  # 410: the receiver says the endpoint is gone for good


@dataclass(frozen=True)
class SendLimits:
    timeout_seconds: float
    max_response_bytes: int
    allow_private: bool


class Sender:
    """Sends messages to one endpoint's URL (see the module docstring); close it with `aclose`."""

    def __init__(
        self,
        limits: SendLimits,
        *,
        resolver: Resolver | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits = limits
        self._resolver = resolver
        self._wall_clock = wall_clock  # the signed timestamp is real time, whatever clock schedules retries
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(limits.timeout_seconds),
            trust_env=False,  # never through a proxy from the environment: it would bypass the address check
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, url: str, keys: SigningKeys, message_id: str, payload: str, now: datetime
    ) -> AttemptResult:
        """POST `payload` to `url`, signed with `keys` (both signatures during a rotation, judged at `now`)."""
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self._limits.timeout_seconds):
                return await self._attempt(url, keys, message_id, payload, now, took)
        except TimeoutError:
            return AttemptResult(
                False, None, f"no answer within {self._limits.timeout_seconds:g} s", None, took()
            )
        except WebhookUrlRefused as exc:
            return AttemptResult(False, None, f"address refused: {exc.message}", None, took())
        except httpx.HTTPError as exc:
            return AttemptResult(False, None, _describe(exc), None, took())
        except OSError as exc:
            return AttemptResult(False, None, f"connection failed: {exc}", None, took())

    async def _attempt(
        self,
        url: str,
        keys: SigningKeys,
        message_id: str,
        payload: str,
        now: datetime,
        took: Callable[[], int],
    ) -> AttemptResult:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await resolve_checked(
            host, port, allow_private=self._limits.allow_private, resolver=self._resolver
        )
        pinned = _pinned_url(url, addresses[0])
        body = payload.encode()
        timestamp = int(self._wall_clock())
        headers = {
            "host": parts.netloc.rpartition("@")[2],
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(keys, message_id, timestamp, body, now),
        }
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        request = self._client.build_request(
            "POST", pinned, content=body, headers=headers, extensions=extensions
        )
        response = await self._client.send(request, stream=True)
        try:
            head = await _read_capped(response, self._limits.max_response_bytes)
        finally:
            await response.aclose()
        snippet = head[:SNIPPET_BYTES].decode("utf-8", errors="replace") or None
        status = response.status_code
        if 200 <= status < 300:
            return AttemptResult(True, status, None, snippet, took())
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
        return AttemptResult(
            False,
            status,
            error,
            snippet,
            took(),
            retry_after=_header(response.headers, "retry-after"),
            gone=status == 410,
        )


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """Up to `limit` bytes of the raw body; the rest is never read (the connection is dropped)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _pinned_url(url: str, address: str) -> str:
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if value else None


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {exc}" if str(exc) else "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
