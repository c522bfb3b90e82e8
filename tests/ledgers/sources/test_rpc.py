"""Stellar RPC source against a real HTTP server on 127.0.0.1 serving real testnet ledgers.

The server follows stellar-rpc's `getLedgers` rules (cmd/stellar-rpc/internal/methods/get_ledgers.go):
a start outside `[oldestLedger, latestLedger]` is error -32600, a cursor past the tip -32602, the page's
`cursor` is its last sequence.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk.xdr import LedgerCloseMeta

from ledgers.sources import (
    LedgerOutOfRetention,
    PassphraseMismatch,
    RetryPolicy,
    RpcSource,
    SourceUnavailable,
    open_source,
)
from ledgers.sources.fixtures import read_ledger_file

from . import TESTNET, wait_until

FIRST, LAST = 1410048, 1410367  # the 320 consecutive lighthorizon testnet ledgers
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.005)


class FakeRpc:
    """The state behind the server: which ledgers exist, and every request received."""

    def __init__(self, ledgers: dict[int, bytes]) -> None:
        self.ledgers = ledgers
        self.oldest, self.latest = FIRST, LAST
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0  # answer HTTP 503 this many times
        self.lock = threading.Lock()

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(body)
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {}
            method, params = body["method"], body.get("params") or {}
            try:
                result = getattr(self, method)(params)
            except _RpcFault as fault:
                return 200, {
                    "jsonrpc": "2.0",
                    "id": body["id"],
                    "error": {"code": fault.code, "message": str(fault)},
                }
            return 200, {"jsonrpc": "2.0", "id": body["id"], "result": result}

    def getNetwork(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"passphrase": TESTNET, "protocolVersion": 19}

    def getLatestLedger(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": "00" * 32, "protocolVersion": 19, "sequence": self.latest}

    def getLedgers(self, params: dict[str, Any]) -> dict[str, Any]:
        page = params.get("pagination") or {}
        limit = page.get("limit") or 50
        if limit > 200:
            raise _RpcFault(-32600, "limit must not exceed 200")
        window = (
            f"the oldest ledger: {self.oldest} and the latest ledger: {self.latest} for this rpc instance"
        )
        if page.get("cursor"):
            if params.get("startLedger"):
                raise _RpcFault(-32600, "startLedger and cursor cannot both be set")
            start = int(page["cursor"]) + 1
            if not self.oldest <= start <= self.latest:
                raise _RpcFault(-32602, f"cursor ('{page['cursor']}') must be between {window}")
        else:
            start = int(params["startLedger"])
            if not self.oldest <= start <= self.latest:
                raise _RpcFault(-32600, f"start ledger must be between {window}")
        sequences = range(start, min(start + limit - 1, self.latest) + 1)
        return {
            "ledgers": [self._ledger_info(seq) for seq in sequences],
            "latestLedger": self.latest,
            "latestLedgerCloseTime": "1650000000",
            "oldestLedger": self.oldest,
            "oldestLedgerCloseTime": "1640000000",
            "cursor": str(sequences[-1]),
        }

    def _ledger_info(self, sequence: int) -> dict[str, Any]:
        raw = self.ledgers[sequence]
        entry = LedgerCloseMeta.from_xdr_bytes(raw).v0
        assert entry is not None
        return {
            "hash": entry.ledger_header.hash.hash.hex(),
            "sequence": sequence,
            "ledgerCloseTime": str(entry.ledger_header.header.scp_value.close_time.time_point.uint64),
            "headerXdr": entry.ledger_header.to_xdr(),
            "metadataXdr": base64.b64encode(raw).decode(),
        }


class _RpcFault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@pytest.fixture
def rpc(shared_ledgers: Path) -> Iterator[tuple[FakeRpc, str]]:
    """`(state, url)` of a JSON-RPC server on a free loopback port, shut down after the test."""
    folder = shared_ledgers / "stellar-go" / "lighthorizon-testnet"
    ledgers = {seq: raw for path in folder.glob("14*") for seq, raw in read_ledger_file(path)}
    state = FakeRpc(ledgers)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, answer = state.answer(body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"rpc+http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def _read(source: RpcSource, start: int, end: int) -> list[tuple[int, bytes]]:
    async with contextlib.aclosing(source.ledgers(start, end)) as ledgers:
        return [item async for item in ledgers]


async def test_pages_through_a_range_with_the_cursor(rpc: tuple[FakeRpc, str]) -> None:
    state, url = rpc
    source = await open_source(url, "testnet", page_limit=50)
    assert isinstance(source, RpcSource)
    assert source.network_passphrase == TESTNET
    ledgers = await _read(source, FIRST, LAST)
    assert [seq for seq, _ in ledgers] == list(range(FIRST, LAST + 1))
    assert all(raw == state.ledgers[seq] for seq, raw in ledgers)
    pages = [r["params"] for r in state.requests if r["method"] == "getLedgers"]
    assert len(pages) == 7  # 320 ledgers, 50 a page
    assert pages[0] == {"startLedger": FIRST, "pagination": {"limit": 50}}
    assert pages[1] == {"pagination": {"cursor": str(FIRST + 49), "limit": 50}}
    assert pages[-1] == {"pagination": {"cursor": str(FIRST + 299), "limit": 20}}  # asks only for the rest
    assert await source.latest_sequence() == LAST
    await source.close()


async def test_follows_the_tip_until_cancelled(rpc: tuple[FakeRpc, str]) -> None:
    state, url = rpc
    state.latest = FIRST + 9
    source = RpcSource(url, page_limit=4, poll_interval=0.01)
    seen: list[int] = []

    async def follow() -> None:
        async for seq, _ in source.ledgers(FIRST + 5, None):
            seen.append(seq)

    task = asyncio.create_task(follow())
    try:
        await wait_until(lambda: seen[-1:] == [FIRST + 9])
        asked = len(state.requests)
        await wait_until(lambda: len(state.requests) >= asked + 3)  # polling at the tip
        state.latest = FIRST + 12  # three ledgers close
        await wait_until(lambda: seen[-1:] == [FIRST + 12])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen == list(range(FIRST + 5, FIRST + 13))
    await source.close()


async def test_start_before_retention_names_the_window(rpc: tuple[FakeRpc, str]) -> None:
    state, url = rpc
    state.oldest = FIRST + 100
    source = RpcSource(url)
    with pytest.raises(LedgerOutOfRetention) as caught:
        await _read(source, FIRST, FIRST + 10)
    assert caught.value.sequence == FIRST
    assert f"retention window is ledgers {FIRST + 100}-{LAST}" in str(caught.value)
    assert caught.value.details["oldest_ledger"] == FIRST + 100
    await source.close()


async def test_transient_failures_are_retried(rpc: tuple[FakeRpc, str]) -> None:
    state, url = rpc
    state.fail_next = 2
    source = RpcSource(url, retry=FAST_RETRY)
    assert [seq for seq, _ in await _read(source, FIRST, FIRST + 2)] == [FIRST, FIRST + 1, FIRST + 2]
    assert len(state.requests) == 3
    state.fail_next = 10
    with pytest.raises(
        SourceUnavailable, match=r"getLedgers at http://127\.0\.0\.1:.* still failing after 3 attempts"
    ):
        await _read(source, FIRST, FIRST)
    await source.close()


async def test_network_is_checked(rpc: tuple[FakeRpc, str]) -> None:
    _, url = rpc
    with pytest.raises(
        PassphraseMismatch, match=r"serves the 'Test SDF Network ; September 2015' network, not pubnet"
    ):
        await open_source(url, "pubnet")
