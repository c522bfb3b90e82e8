"""uvicorn's WebSocket protocol as `obsrvr-flow serve` runs it: a slow consumer's close, one socket write per
event-loop turn (`CoalescingTransport`), frames made by the application, and keep-alive failures handed to it.

A client that stops reading must be closed with 4408 and the id to resume from (`api.graphql_ws`), soon and
before uvicorn's keep-alive gives up on it (1011, no resume id). Two things stood in the way:

- **The kernel's buffers.** On Linux an accepted socket's send buffer auto-tunes up to `tcp_wmem`'s maximum
  (4 MiB here) and the client's receive buffer up to `tcp_rmem`'s (6 MiB): megabytes of rows vanish into them
  before uvicorn's writer ever waits, and the transport (`api.graphql_ws.connection`) notices only when it does.
  `websocket_socket_send_buffer_bytes` fixes the accepted socket's `SO_SNDBUF` (the kernel doubles it for its
  bookkeeping), so what the server holds for a client that does not read is that plus asyncio's 64 KiB write
  buffer. Subscription streams are small: 256 KiB per RTT is ~2.5 MB/s at 100 ms.
- **The close frame.** uvicorn's `send` waits until the transport may be written to before anything, the close
  frame included, so the 4408 waited for a client that does not read (forever). Here the close frame is queued
  behind what is buffered at once: a client that reads again gets every row written for it, then the close with
  the resume id. uvicorn closes the transport 10 s after a close frame; asyncio then still flushes what is
  buffered, so a peer that never reads again would hold its socket: it is aborted `ABORT_SECONDS` later.
- **The keep-alive.** A client that stops reading while rows trickle never fills those buffers, so it was
  uvicorn's keep-alive that gave up on it first (no pong within `ws_ping_timeout`) and closed it with 1011 and
  no resume id. When the application registered ``"unresponsive"`` in the scope's frames extension, the timeout
  calls it instead (the transport closes 4408 naming the id to resume from, behind the rows already written);
  should the application not close within `UNRESPONSIVE_GRACE_SECONDS`, uvicorn's 1011 follows.
- **One keep-alive timer for every connection.** uvicorn keeps two timers per connection for its WebSocket pings
  (the next ping, then the pong's deadline), each a `call_later` entry in the loop's timer heap rescheduled at
  every ping and pong. Our `api.graphql_ws.ticker.Ticker` already wakes every half ping interval for the
  application's keep-alive, but that one sends protocol messages (``ping``/``ka``) to idle connections and needs
  no answer: it is not what detects a peer that is gone or no longer reads. So uvicorn's WebSocket pings stay,
  with the same payloads, answers and timeout, but are driven from one shared `Ticker` per loop and interval
  (`_keepalive_tick`) instead of per-connection timers: a ping goes out at most half an interval late, a missing
  pong is seen within half an interval of its deadline.
- **Frames made by the application.** Without a negotiated extension (permessage-deflate), a text frame is a
  header and the message: the transport (`api.graphql_ws`) frames the rows of a ledger once per subscription
  (often once for many subscribers) and this writes them as they are, instead of framing message by message;
  synchronously, through the scope extension's `WRITE_NOW` callable, when the socket is writable.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import weakref
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.protocol import State

from api.graphql_ws.messages import FRAMES_EXTENSION, RAW_FRAMES, WRITE_NOW
from api.graphql_ws.ticker import Ticker

ABORT_SECONDS = 60.0
"""How long after its close frame a connection that still has unwritten data (its peer does not read) is cut."""
UNRESPONSIVE_GRACE_SECONDS = 10.0
"""How long the application has to close a connection it was told is unresponsive before uvicorn's 1011."""


COALESCE_BYTES = 65_536
"""Frames written in one turn of the event loop are joined into one socket write, up to this many bytes (asyncio's
default high-water mark: past it the transport pauses the writer as it would have)."""


class CoalescingTransport:
    """The socket transport, with the writes of one event-loop turn joined into one `write`.

    A connection's writer hands uvicorn every queued frame in one turn (a ledger's rows for a subscription), and
    each became a `send` system call: at 1,000 subscribers the largest cost of the process. Every write of the
    protocol goes through here, in order (data frames, pongs, pings, the close frame); `close` writes what is
    pending first."""

    def __init__(self, transport: Any, loop: Any) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pending.append(data)
        self._size += len(data)
        if self._size >= COALESCE_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_soon)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def _flush_soon(self) -> None:
        self._scheduled = False
        self.flush()

    def write_now(self, data: bytes) -> None:
        """`data` to the socket in this call (behind what is pending): a caller that writes once per turn (a
        subscriber's rows of a ledger) saves the scheduled flush, and its bytes leave before the next
        subscriber's are made instead of after everyone's."""
        if self._pending:
            self._pending.append(data)
            self._size += len(data)
            self.flush()
        elif not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._size = 0
        self._transport.abort()

    def is_closing(self) -> bool:
        # Asked for every frame written (`write_frames_now`): not through `__getattr__`, which costs a
        # failed attribute lookup first.
        return bool(self._transport.is_closing())

    def get_write_buffer_size(self) -> int:
        return int(self._transport.get_write_buffer_size()) + self._size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


_KEEPALIVE_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, Ticker]] = (
    weakref.WeakKeyDictionary()
)
"""The WebSocket keep-alive's tickers, per event loop (a ticker's task belongs to one) and period."""


def keepalive_ticker(loop: asyncio.AbstractEventLoop, period: float) -> Ticker:
    tickers = _KEEPALIVE_TICKERS.setdefault(loop, {})
    ticker = tickers.get(period)
    if ticker is None:
        ticker = tickers[period] = Ticker(period)
    return ticker


class FlowWebSocketProtocol(WebSocketsSansIOProtocol):
    send_buffer_bytes = 0
    """`SO_SNDBUF` of the accepted socket; 0 keeps the kernel's auto-tuning."""
    _keepalive: Ticker | None = None
    _next_ping = 0.0

    # -- the WebSocket keep-alive, from one shared ticker (module docstring) ----------------------------------

    def start_keepalive(self) -> None:
        if self.ping_interval is None or self.ping_interval <= 0:
            return
        self._next_ping = self.loop.time() + self.ping_interval
        self._keepalive = keepalive_ticker(self.loop, self.ping_interval / 2)
        self._keepalive.add(id(self), self._keepalive_tick)

    def stop_keepalive(self) -> None:
        super().stop_keepalive()  # uvicorn's own timers: none are set here, but its state is reset
        if self._keepalive is not None:
            self._keepalive.discard(id(self))
            self._keepalive = None

    def _keepalive_tick(self, now: float) -> None:
        if self.close_sent or self.transport.is_closing():
            self.stop_keepalive()
            return
        # Waiting for its pong, when there is a deadline (without one, as uvicorn, pings go on at their interval).
        if self.pending_ping_payload is not None and self.ping_timeout is not None:
            if now - self.ping_sent_at >= self.ping_timeout:
                self.stop_keepalive()  # as uvicorn: no ping after a timeout
                self.keepalive_timeout()
            return
        if now >= self._next_ping:
            self.send_keepalive_ping()

    def send_keepalive_ping(self) -> None:
        """uvicorn's ping (a random payload its pong must echo), without scheduling a timer."""
        self.pending_ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ping_sent_at = self.loop.time()
        assert self.ping_interval is not None
        self._next_ping = self.ping_sent_at + self.ping_interval
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))

    def handle_pong(self, event: Any) -> None:
        if self.pending_ping_payload is None or bytes(event.data) != self.pending_ping_payload:
            return  # unsolicited, or a stale answer
        self.last_ping_rtt = self.loop.time() - self.ping_sent_at
        self.pending_ping_payload = None  # the next ping goes out an interval after this one (`_next_ping`)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if (
            self.send_buffer_bytes > 0
            and sock is not None
            and sock.family in (socket.AF_INET, socket.AF_INET6)
        ):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # set when the handshake is accepted
        if scope is not None:  # the extensions are negotiated by now (`ServerProtocol.accept`)
            raw = not self.conn.extensions
            extension: dict[str, Any] = {"raw": raw}
            if raw:
                extension[WRITE_NOW] = self.write_frames_now
            scope["extensions"][FRAMES_EXTENSION] = extension
        # uvicorn keeps the parsed handshake request (its headers: ~2.5 KiB) for the connection's life and never
        # reads it again; the scope has the headers the application sees.
        self.request = None  # type: ignore[assignment]

    def keepalive_timeout(self) -> None:
        scope = getattr(self, "scope", None)
        extension = scope["extensions"].get(FRAMES_EXTENSION) if scope is not None else None
        unresponsive = extension.get("unresponsive") if isinstance(extension, dict) else None
        if unresponsive is None or self.close_sent or self.transport.is_closing():
            super().keepalive_timeout()
            return
        self.pong_timer = None
        self.pending_ping_payload = None
        unresponsive()
        self.loop.call_later(UNRESPONSIVE_GRACE_SECONDS, self._fail_if_open)

    def _fail_if_open(self) -> None:
        if not self.close_sent and not self.disconnected and not self.transport.is_closing():
            super().keepalive_timeout()

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.send":
            raw = message.get(RAW_FRAMES)
            if raw is not None:
                await self._send_raw(raw)
                return
            frames = message.get(FRAMES_EXTENSION)
            if frames is not None:
                await self._send_frames(frames)
                return
        closing = message["type"] == "websocket.close" and self.handshake_complete and not self.close_sent
        if closing and self.initial_response is None:
            # The close frame goes behind the buffered data now; nothing is sent after it. A peer that does
            # not read (paused writer, or a trickle sitting in the buffers) must not hold the socket forever.
            self.writable.set()
            self.loop.call_later(ABORT_SECONDS, self._abort_if_unflushed)
        await super().send(message)

    async def _send_frames(self, frames: list[bytes]) -> None:
        """Several text messages, framed one by one (compressed when negotiated), written at once; the same
        checks as uvicorn's send of one."""
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if not self.handshake_complete or self.close_sent or self.initial_response is not None:
            raise RuntimeError("WebSocket frames sent before the handshake or after the close")
        try:
            for data in frames:
                self.conn.send_text(data)
        except InvalidState:
            raise ClientDisconnected() from None
        self.transport.write(b"".join(self.conn.data_to_send()))

    async def _send_raw(self, data: bytes) -> None:
        """Whole text frames made by the application (only offered without extensions: see `handle_connect`)."""
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if not self.handshake_complete or self.close_sent or self.initial_response is not None:
            raise RuntimeError("WebSocket frames sent before the handshake or after the close")
        if self.conn.extensions or self.conn.expect_continuation_frame or self.conn.state is not State.OPEN:
            raise ClientDisconnected()  # closing (or a frame mid-message, which we never send)
        self.transport.write(data)

    def write_frames_now(self, data: bytes) -> bool:
        """Whole text frames made by the application written in this call, when the connection is open and
        writable (True); else nothing is done (False) and the application sends them as usual (`_send_raw`,
        which waits or raises). No ASGI send, no middleware, no await: at 1,000 subscribers the path from the
        application's send to the transport was a large part of a delivery's cost."""
        if (
            self.disconnected
            or not self.writable.is_set()
            or not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
            or self.conn.extensions
            or self.conn.expect_continuation_frame
            or self.conn.state is not State.OPEN
            or self.transport.is_closing()  # write_now would drop the bytes: not "written"
        ):
            return False
        self.transport.write_now(data)  # type: ignore[attr-defined]
        return True

    def _abort_if_unflushed(self) -> None:
        if not self.disconnected and self.transport.get_write_buffer_size() > 0:
            self.transport.abort()


def websocket_protocol(send_buffer_bytes: int) -> type[FlowWebSocketProtocol]:
    """The protocol class uvicorn instantiates per WebSocket (it takes a class, not a factory)."""
    return type("FlowWebSocketProtocol", (FlowWebSocketProtocol,), {"send_buffer_bytes": send_buffer_bytes})
