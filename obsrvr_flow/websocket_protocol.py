"""uvicorn's WebSocket protocol with the two changes a slow consumer's close needs (used by `obsrvr-flow serve`).

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
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

ABORT_SECONDS = 60.0
"""How long after its close frame a connection that still has unwritten data (its peer does not read) is cut."""


class FlowWebSocketProtocol(WebSocketsSansIOProtocol):
    send_buffer_bytes = 0
    """`SO_SNDBUF` of the accepted socket; 0 keeps the kernel's auto-tuning."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if (
            self.send_buffer_bytes > 0
            and sock is not None
            and sock.family in (socket.AF_INET, socket.AF_INET6)
        ):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)

    async def send(self, message: Any) -> None:
        closing = message["type"] == "websocket.close" and self.handshake_complete and not self.close_sent
        if closing and not self.writable.is_set() and self.initial_response is None:
            # The close frame goes behind the buffered data now; nothing is sent after it.
            self.writable.set()
            self.loop.call_later(ABORT_SECONDS, self._abort_if_unflushed)
        await super().send(message)

    def _abort_if_unflushed(self) -> None:
        if not self.disconnected and self.transport.get_write_buffer_size() > 0:
            self.transport.abort()


def websocket_protocol(send_buffer_bytes: int) -> type[FlowWebSocketProtocol]:
    """The protocol class uvicorn instantiates per WebSocket (it takes a class, not a factory)."""
    return type("FlowWebSocketProtocol", (FlowWebSocketProtocol,), {"send_buffer_bytes": send_buffer_bytes})
