"""The WebSocket route's handler: pick the subprotocol, accept, run the connection."""

from __future__ import annotations

from starlette.websockets import WebSocket

from api.graphql_ws import messages
from api.graphql_ws.connection import Connection
from api.state import app_state


async def websocket_endpoint(websocket: WebSocket) -> None:
    dialect = messages.choose_dialect(list(websocket.scope.get("subprotocols", ())))
    if dialect is None:
        await websocket.accept()
        await websocket.close(
            messages.SUBPROTOCOL_NOT_ACCEPTABLE,
            "subprotocol not acceptable: offer graphql-transport-ws (or the legacy graphql-ws)",
        )
        return
    await websocket.accept(subprotocol=dialect.name)
    await Connection(websocket, dialect, app_state(websocket)).run()
