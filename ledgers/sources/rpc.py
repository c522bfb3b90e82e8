"""Stellar RPC source: `getLedgers` pages (base64 `LedgerCloseMeta`), good for the live tip.

RPC keeps about 7 days of ledgers. A start older than its `oldestLedger` is `LedgerOutOfRetention`
naming the window; ledgers newer than `latestLedger` are waited for (polling `poll_interval`), both when
following the tip (`end=None`) and for a bounded range that reaches past it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from core.settings import NETWORK_PASSPHRASES, Network

from .base import RetryPolicy, retrying
from .errors import (
    LedgerOutOfRetention,
    LedgerSourceError,
    PassphraseMismatch,
    SourceConfigError,
    SourceDataError,
)
from .xdr import ledger_sequence

log = logging.getLogger(__name__)

DEFAULT_PAGE_LIMIT = 10  # current pubnet ledgers are 1-3 MB of XDR each: keep responses modest
MAX_PAGE_LIMIT = 200
_WINDOW = re.compile(r"oldest ledger:\s*(\d+)\s+and the latest ledger:\s*(\d+)")
_INVALID_REQUEST, _INVALID_PARAMS = -32600, -32602


class RpcError(LedgerSourceError):
    """A JSON-RPC error answer that is not about the retention window."""

    code = "rpc_error"

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.rpc_code = int(error.get("code", 0))
        self.rpc_message = str(error.get("message", ""))
        super().__init__(f"{method} failed: [{self.rpc_code}] {self.rpc_message}")


class _TransientRpc(Exception):
    """HTTP 429/5xx or a JSON-RPC internal error: worth retrying."""


@dataclass(frozen=True)
class _Window:
    oldest: int
    latest: int


def rpc_http_url(url: str) -> str:
    """`rpc+https://host[:port][/path]` → `https://host[:port][/path]` (and `rpc+http://` likewise)."""
    parts = urlsplit(url)
    if parts.scheme not in ("rpc+https", "rpc+http") or not parts.netloc:
        raise SourceConfigError(f"{url}: expected rpc+https://host[:port][/path] (or rpc+http:// for tests)")
    return urlunsplit((parts.scheme.removeprefix("rpc+"), parts.netloc, parts.path or "/", parts.query, ""))


class RpcSource:
    """`LedgerSource` over a Stellar RPC server's `getLedgers`, with cursor paging and retries."""

    def __init__(
        self,
        url: str,
        *,
        page_limit: int = DEFAULT_PAGE_LIMIT,
        poll_interval: float = 2.0,
        retry: RetryPolicy | None = None,
        request_timeout: float = 60.0,
        headers: dict[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise SourceConfigError(f"page_limit must be 1-{MAX_PAGE_LIMIT}, not {page_limit}")
        self.url = url
        self.endpoint = rpc_http_url(url) if url.startswith("rpc+") else url
        self.page_limit = page_limit
        self.poll_interval = poll_interval
        self.retry = retry or RetryPolicy()
        self.network_passphrase: str | None = None
        self._client = client or httpx.AsyncClient(timeout=request_timeout, headers=headers)
        self._ids = itertools.count(1)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON-RPC call with retries on transport errors, 429, 5xx and internal errors."""
        return await retrying(
            lambda: self._call_once(method, params),
            policy=self.retry,
            transient=(_TransientRpc, httpx.TransportError),
            what=f"{method} at {self.endpoint}",
        )

    async def _call_once(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            body["params"] = params
        response = await self._client.post(self.endpoint, json=body)
        if response.status_code == 429 or response.status_code >= 500:
            raise _TransientRpc(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise SourceConfigError(f"{method} at {self.endpoint}: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise SourceDataError(f"{method} at {self.endpoint} did not answer JSON") from exc
        if not isinstance(answer, dict):
            raise SourceDataError(
                f"{method} at {self.endpoint} answered {type(answer).__name__}, not an object"
            )
        if "error" in answer:
            if answer["error"].get("code") == -32603:
                raise _TransientRpc(str(answer["error"].get("message")))
            raise RpcError(method, answer["error"])
        result = answer.get("result")
        if not isinstance(result, dict):
            raise SourceDataError(f"{method} at {self.endpoint} answered without a result object")
        return result

    async def check_network(self, network: Network | str) -> None:
        """Raise `PassphraseMismatch` unless the server's `getNetwork` passphrase is `network`'s."""
        actual = str((await self.call("getNetwork"))["passphrase"])
        self.network_passphrase = actual
        if actual != NETWORK_PASSPHRASES[Network(network)]:
            raise PassphraseMismatch(
                f"the RPC at {self.endpoint} serves the {actual!r} network, not {Network(network)}"
            )

    async def latest_sequence(self) -> int | None:
        return int((await self.call("getLatestLedger"))["sequence"])

    async def ledgers(self, start: int, end: int | None) -> AsyncGenerator[tuple[int, bytes], None]:
        """Yield `(sequence, LedgerCloseMeta XDR)` for `start..end`; `end=None` follows the tip."""
        expected = start
        cursor: str | None = None
        while end is None or expected <= end:
            limit = self.page_limit if end is None else min(self.page_limit, end - expected + 1)
            if cursor is None:
                params: dict[str, Any] = {"startLedger": expected, "pagination": {"limit": limit}}
            else:
                params = {"pagination": {"cursor": cursor, "limit": limit}}
            try:
                page = await self.call("getLedgers", params)
            except RpcError as exc:
                window = _window_of(exc)
                if window is None:
                    raise
                page = {"ledgers": [], "oldestLedger": window.oldest, "latestLedger": window.latest}
            oldest = int(page.get("oldestLedger", 0))
            latest = int(page.get("latestLedger", 0))
            if expected < oldest:
                raise LedgerOutOfRetention(
                    f"ledger {expected} is older than the RPC at {self.endpoint} keeps: its retention window "
                    f"is ledgers {oldest}-{latest}; read older ledgers from a datastore",
                    sequence=expected,
                    details={"oldest_ledger": oldest, "latest_ledger": latest},
                )
            ledgers = page.get("ledgers") or []
            for item in ledgers:
                sequence, raw = _decode_item(item)
                if sequence < expected:
                    continue
                if sequence != expected:
                    raise SourceDataError(f"the RPC at {self.endpoint} skipped from {expected} to {sequence}")
                yield sequence, raw
                expected += 1
                if end is not None and expected > end:
                    return
            if ledgers:
                cursor = page.get("cursor") or None
                continue
            # At the tip: nothing newer yet. Restart from the sequence (not a cursor past the tip, which
            # stellar-rpc rejects) once the poll interval has passed.
            cursor = None
            log.debug("ledger %d not on the RPC yet (latest %d); polling", expected, latest)
            await asyncio.sleep(self.poll_interval)

    async def close(self) -> None:
        await self._client.aclose()


def _window_of(exc: RpcError) -> _Window | None:
    """The retention window stellar-rpc names when a start or cursor falls outside it."""
    if exc.rpc_code not in (_INVALID_REQUEST, _INVALID_PARAMS):
        return None
    match = _WINDOW.search(exc.rpc_message)
    return _Window(int(match.group(1)), int(match.group(2))) if match else None


def _decode_item(item: dict[str, Any]) -> tuple[int, bytes]:
    try:
        sequence = int(item["sequence"])
        raw = base64.b64decode(item["metadataXdr"], validate=True)
        declared = ledger_sequence(raw)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise SourceDataError(
            f"getLedgers answered a ledger without a usable sequence/metadataXdr: {exc}"
        ) from exc
    if declared != sequence:
        raise SourceDataError(f"getLedgers ledger {sequence} carries the metadata of another ledger")
    return sequence, raw
