"""The two subprotocols' message names, the close codes, and reading what a client sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from storage.api_keys import well_formed

BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
TIMEOUT = 4408
"""Connection initialisation timeout, and a slow consumer (closed with the id to resume from)."""
DUPLICATE_ID = 4409
TOO_MANY_REQUESTS = 4429
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011

MAX_REASON_BYTES = 123  # RFC 6455: a close frame's payload is at most 125 bytes, 2 of them the code
MAX_OPERATION_ID = 128
FRAMES_EXTENSION = "obsrvr.frames"
"""A key of the ASGI scope's ``extensions`` when the server (`obsrvr-flow serve`'s protocol) takes several text
messages in one send: ``{"type": "websocket.send", FRAMES_EXTENSION: [utf-8 bytes, ...]}``. Without it, one
message per send (any ASGI server, the test client).

The server puts a dict there: with ``"raw": True`` (no WebSocket extension such as permessage-deflate was
negotiated, so a text frame is just a header and the message) it also takes ``{"type": "websocket.send",
RAW_FRAMES: bytes}``, whole unfragmented text frames made by `text_frame`, written to the socket as they are; the
application may set ``"unresponsive"`` to a callable the server calls, instead of closing with 1011, when the
client answered no WebSocket ping in time (`obsrvr_flow.websocket_protocol`)."""
RAW_FRAMES = "obsrvr.raw"
WRITE_NOW = "write_now"
"""With ``"raw"``, the server's dict may hold a callable under this key: ``write_now(frames: bytes) -> bool`` writes
whole frames (as `RAW_FRAMES` takes them) in the call when the connection is open and writable, and returns
False, doing nothing, otherwise (the application then sends them with ``websocket.send``, which waits)."""


def text_frame_head(size: int) -> bytes:
    """The header of an unmasked (server to client), unfragmented text frame of `size` bytes (RFC 6455 5.2)."""
    if size < 126:
        return bytes((0x81, size))
    if size < 65_536:
        return bytes((0x81, 126)) + size.to_bytes(2, "big")
    return bytes((0x81, 127)) + size.to_bytes(8, "big")


def text_frame(message: bytes) -> bytes:
    return text_frame_head(len(message)) + message


@dataclass(frozen=True)
class Dialect:
    """What one subprotocol calls each message."""

    name: str
    subscribe: str
    stop: str
    next: str
    keepalive: str
    legacy: bool

    def error_payload(self, errors: list[dict[str, Any]]) -> Any:
        """An ``error`` message's payload: the list of GraphQL errors (graphql-transport-ws), or one error
        object (the legacy protocol's clients expect an object), the others under ``errors``."""
        if not self.legacy:
            return errors
        if len(errors) == 1:
            return errors[0]
        return {"message": "; ".join(str(e.get("message")) for e in errors), "errors": errors}


TRANSPORT_WS = Dialect("graphql-transport-ws", "subscribe", "complete", "next", "ping", legacy=False)
LEGACY_WS = Dialect("graphql-ws", "start", "stop", "data", "ka", legacy=True)


def choose_dialect(offered: list[str]) -> Dialect | None:
    """The subprotocol to speak: graphql-transport-ws when offered, else the legacy one, else None."""
    for dialect in (TRANSPORT_WS, LEGACY_WS):
        if dialect.name in offered:
            return dialect
    return None


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def reason(text: str) -> str:
    """A close reason cut to what a close frame holds (123 bytes of UTF-8)."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[:MAX_REASON_BYTES].decode(errors="ignore")


def _credential(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() == "bearer":
        return token.strip()
    # Some clients put the bare key where the header value goes.
    return value.strip() if well_formed(value.strip()) else ""


def key_from_payload(payload: dict[str, Any]) -> str | None:
    """The API key of a connection_init payload: ``{"Authorization": "Bearer <key>"}`` with the name in any
    case, at the top level or under ``headers`` (what GraphiQL, Apollo and graphql-ws clients send); "" when
    the value is not a bearer credential (refused as a missing key, as over HTTP); None when there is none."""
    for holder in (payload, payload.get("headers")):
        if not isinstance(holder, dict):
            continue
        for name, value in holder.items():
            if isinstance(name, str) and name.lower() == "authorization":
                return _credential(value)
    return None
