"""GraphQL over WebSocket at `/api/v1/{customer_id}/graphql`: subscriptions (and queries) for a tenant.

Two subprotocols, chosen from the client's ``Sec-WebSocket-Protocol`` offer (`messages`):

- ``graphql-transport-ws``, the protocol of the `graphql-ws` library: connection_init/connection_ack,
  ping/pong both ways, subscribe, next, error, complete;
- ``graphql-ws``, the legacy protocol of Apollo's `subscriptions-transport-ws`: connection_init,
  connection_ack/connection_error, ka (keep-alive), start, data, error, complete, stop, connection_terminate.

The API key comes in the connection_init payload (``{"Authorization": "Bearer <key>"}``, any case, or nested
under ``headers``) or in the upgrade's ``Authorization`` header (checked by the auth middleware at the
handshake, whose refusals are HTTP answers). Every `next`/`data` payload is ``{"data", "extensions": {"id"}}``:
the row id, which is also the query cursor position and the webhook event id, and the ``after`` to resume from.

Close codes (the reason starts with the error code; at most 123 bytes):

- 4400: a message that is not JSON, not an object with a known ``type``, malformed, or over
  `websocket_max_message_bytes`;
- 4401: no key, an unknown or revoked key (a key revoked while connected too, within `auth_cache_seconds`), or a
  subscribe before connection_ack;
- 4403: the key is not this tenant's (or the tenant does not exist), or the address is not in `allowed_ips`;
- 4406: no subprotocol offered that we speak;
- 4408: no connection_init within `websocket_init_timeout_seconds`; or a slow consumer (its writer waited a
  ping interval, or under `obsrvr-flow serve` it answered no WebSocket ping for 3 intervals), reason
  ``slow_consumer after=<row id> id=<operation id>``: resubscribe with ``after: "<row id>"`` and nothing is lost
  (every row up to it was written before the close; the last ``extensions.id`` a client received is always a
  correct resume point too);
- 4409: a subscribe whose id is already running (graphql-transport-ws);
- 4429: a second connection_init; the tenant's `max_websocket_connections` reached (per replica); its rate limit
  spent at connection_init;
- 1013: the service is unavailable (a database outage at connection_init): retry later.

Refusals of one operation (validation, scopes, a bad filter or ``after``, `max_subscriptions_per_connection`,
the rate limit) are an ``error`` message for that operation; the connection stays open.
"""

from api.graphql_ws.endpoint import websocket_endpoint

__all__ = ["websocket_endpoint"]
