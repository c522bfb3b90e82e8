"""Rows of one subscription handed to the socket together, encoded once for every subscriber that shares them.

A ledger's rows reach every live subscriber of a group at once. Subscribers whose results are the same (the same
schema, tenant, readable processors, document and variables: `schema.subscribe.PushedStream.share`) get the same
`EncodedBatch`: the rows are executed and their ``next`` payloads encoded once (`operations.BATCHES`, keyed by
the share key and the row ids). What differs per subscriber is only the operation id at the start of each
message: `EncodedBatch.frames` splices it into WebSocket text frames prepared once per id length, so a
subscriber's rows of a ledger cost one `bytes.join`.
"""

from __future__ import annotations

from api.graphql_ws.messages import text_frame_head

HEAD_LENGTHS_KEPT = 4
"""Frame layouts an `EncodedBatch` keeps, one per length of message head (operation ids of one client library
have one length: graphql-ws's UUIDs, Apollo's counters of a few digits)."""


class EncodedBatch:
    """The encoded ``next`` payloads of consecutive rows of a subscription, with their ids."""

    __slots__ = ("_layouts", "payloads", "row_ids", "shared")

    def __init__(self, payloads: list[bytes], row_ids: tuple[str, ...], shared: bool = False) -> None:
        self.payloads = payloads
        self.row_ids = row_ids
        self.shared = shared
        """The same for every subscription of its share key (no errors, which name one request id)."""
        self._layouts: dict[int, list[bytes]] = {}

    def __len__(self) -> int:
        return len(self.payloads)

    def messages(self, head: bytes) -> list[bytes]:
        """Each row's message: `head` (``{"id":..,"type":"next","payload":``), the payload, ``}``."""
        return [head + payload + b"}" for payload in self.payloads]

    def frames(self, head: bytes) -> bytes:
        """Every row's message as an unmasked WebSocket text frame, one after the other."""
        return head.join(self._layout(len(head)))

    def _layout(self, head_size: int) -> list[bytes]:
        """What goes between the heads: the first frame's header; then each payload, ``}`` and the next frame's
        header (a header depends on the message's length only); then the last payload and ``}``."""
        layout = self._layouts.get(head_size)
        if layout is not None:
            return layout
        layout = []
        glue = b""
        for payload in self.payloads:
            layout.append(glue + text_frame_head(head_size + len(payload) + 1))
            glue = payload + b"}"
        layout.append(glue)
        if len(self._layouts) < HEAD_LENGTHS_KEPT:
            self._layouts[head_size] = layout
        return layout
