"""Running one operation sent over a GraphQL WebSocket: a subscription streams a ``next`` per row (then
``complete`` if its stream ends); a query or mutation is executed once (``next``, then ``complete``).

Each start is counted like a request: one hit of the tenant's rate limit (`spend_request`) and one use in the
usage counters (kind ``subscription``, or ``graphql`` for a query). Refusals of the operation (validation,
scopes, a bad ``filter`` or ``after``, the connection's `max_subscriptions_per_connection`, the rate limit) are
an ``error`` message for it; a subscriber that fell behind closes the connection (`Connection.slow_consumer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Hashable
from operator import itemgetter
from typing import Any

import orjson
from graphql import ExecutionResult, OperationType, get_operation_ast

from api.errors import rendered_error
from api.graphql_ws.batches import EncodedBatch
from api.graphql_ws.connection import Connection, ConnectionEnded, Operation
from api.middleware.ratelimit import spend_request
from api.request_ids import request_id_of
from core.errors import BadRequest, RateLimited
from resolvers.context import RequestContext
from schema.build import schema_for
from schema.cost import cost_error
from schema.errors import format_errors, graphql_error
from schema.subscribe import Pushed, PushedStream, SharedResults
from services.subscriptions import SlowConsumer

log = logging.getLogger("obsrvr_flow.api")


def _parts(payload: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query, variables, operation_name = (
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
    )
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("no query: send {query, variables, operationName}")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("variables must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("operationName must be a string")
    return query, variables, operation_name


def _body(result: ExecutionResult, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = format_errors(result.errors, request_id)
    return body


class EncodedPayloads:
    """The encoded ``next`` payloads of recent rows, ``{"data", "extensions": {"id"}}``: subscribers of one query
    share each row's result object (`schema.subscribe.SharedResults`), so they share its encoding too instead of
    each encoding the same data. Results with errors are encoded per subscriber (the errors name its request
    id). Bounded (LRU); an entry holds its result, so a reused object id never matches another result."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[ExecutionResult, bytes]] = OrderedDict()

    def encoded(self, pushed: Pushed, request_id: str) -> bytes:
        result = pushed.result
        if result.errors:
            return _encode_payload(_body(result, request_id), pushed.row_id)
        hit = self._entries.get(id(result))
        if hit is not None and hit[0] is result:
            self._entries.move_to_end(id(result))
            return hit[1]
        payload = _encode_payload(_body(result, request_id), pushed.row_id)
        self._entries[id(result)] = (result, payload)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return payload


def _encode_payload(body: dict[str, Any], row_id: str) -> bytes:
    body["extensions"] = {"id": row_id}
    return orjson.dumps(body)


ROW_ID = itemgetter("id")
"""A row's id (a string: the hub compares and orders rows by it)."""
PAYLOADS = EncodedPayloads()
BATCHES: SharedResults[EncodedBatch] = SharedResults(256)
"""A ledger's rows reach every subscriber of a group within moments: a few recent batches suffice."""


async def run_operation(conn: Connection, operation: Operation, payload: dict[str, Any]) -> None:
    """The operation's task (cancelled when the client stops it or the connection ends)."""
    try:
        await _run(conn, operation, payload)
    except SlowConsumer as slow:
        await conn.slow_consumer(operation, slow.resume_after)
    except ConnectionEnded:
        pass  # nobody to tell: the connection's end cancels what is left
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # refusals as the API renders them; anything else masked, logged with the id
        await conn.error(operation, [graphql_error(rendered_error(exc, conn.scope))])
    finally:
        conn.finished(operation)


async def _run(conn: Connection, operation: Operation, payload: dict[str, Any]) -> None:
    query, variables, operation_name = _parts(payload)
    principal = conn.principal
    assert principal is not None  # operations start only after connection_ack
    state = conn.state
    tenant = principal.tenant
    configs = state.registry.configs(tenant.config)
    tenant_schema = schema_for(state.registry, frozenset(configs))
    request_id = request_id_of(conn.scope)
    ctx = RequestContext(
        router=state.router,
        tenant_id=tenant.id,
        network=tenant.config.customer.network.value,
        principal=principal,
        configs=configs,
        request_id=request_id,
        live=state.subscriptions,
    )
    prepared = await tenant_schema.documents.prepare_async(query, state.validation_pool, tenant.id)
    if prepared.document is None:
        await conn.error(operation, format_errors(prepared.errors, request_id))
        return
    document = prepared.document
    definition = get_operation_ast(document, operation_name)
    too_costly = cost_error(tenant_schema.graphql_schema, document, definition, variables)
    if too_costly is not None:
        await conn.error(operation, format_errors((too_costly,), request_id))
        return
    subscription = definition is not None and definition.operation is OperationType.SUBSCRIPTION
    if subscription:
        cap = tenant.config.customer.api.max_subscriptions_per_connection
        if conn.subscriptions() >= cap:
            raise RateLimited(f"at most {cap} subscriptions on one connection", code="too_many_subscriptions")
        operation.subscription = True  # counted from here (no await since the check)
        after = (variables or {}).get("after")
        if isinstance(after, str):  # its resume point should it stall before any row is written
            operation.after = after
    _, refusal = await spend_request(state, principal)
    if refusal is not None:
        raise refusal
    state.usage.record(tenant.id, principal.key_id, "subscription" if subscription else "graphql")
    if not subscription:
        result = await tenant_schema.execute(document, variables, operation_name, ctx)
        await _send_result(conn, operation, _body(result, request_id))
        await conn.complete(operation)
        return
    started = await tenant_schema.subscribe(document, variables, operation_name, ctx)
    if isinstance(started, ExecutionResult):  # refused before any row: scopes, filter, after
        errors = format_errors(started.errors or (), request_id)
        await conn.error(operation, errors or [{"message": "the subscription did not start"}])
        return
    await stream_rows(conn, operation, started, request_id)
    await conn.complete(operation)


async def stream_rows(conn: Connection, operation: Operation, started: PushedStream, request_id: str) -> None:
    """A started subscription's rows to the client until its stream ends, then leave it. Live rows mostly go
    from the hub straight to the socket (`WriteThrough`) while this task stays parked in `next_rows`; what
    this task takes (catch-up pages, rows offered while the connection was busy) it pushes itself."""
    if conn.writes_through:
        started.write_through(WriteThrough(conn, operation, started, request_id))
    try:
        while True:
            try:
                rows = await started.next_rows()
            except StopAsyncIteration:
                break
            await conn.push(operation, await encoded_batch(started, rows, request_id))
    finally:
        started.write_through(None)  # the writer refers back to the stream: no cycle left for the GC
        await started.aclose()


async def encoded_batch(stream: PushedStream, rows: list[Any], request_id: str) -> EncodedBatch:
    """The rows' ``next`` payloads, executed and encoded once for every subscription sharing the stream's
    results (`PushedStream.share`: the same schema, tenant, readable processors, document and variables, so the
    same scope checks); results with errors (which name the request id) are this subscriber's alone."""
    row_ids = tuple(map(ROW_ID, rows))  # per subscriber and ledger: no Python frame per row
    share = stream.share
    key = (share, row_ids)
    if share is not None:
        hit = BATCHES.get(key, stream.document)
        if hit is not None:
            return hit
    pushed = [await stream.pushed(row) for row in rows]
    shared = share is not None and not any(item.result.errors for item in pushed)
    batch = EncodedBatch([PAYLOADS.encoded(item, request_id) for item in pushed], row_ids, shared)
    if shared:
        BATCHES.put(key, stream.document, batch)
    return batch


class WriteThrough:
    """An operation's `services.subscriptions.members.Writer`: the hub encodes a message's rows once per share
    (subscriptions with the same results, `PushedStream.share`) and each idle member's connection writes them
    with its operation id spliced in (`Connection.write_through`), while the operation's task stays parked."""

    __slots__ = ("_conn", "_operation", "_request_id", "_stream", "share")

    def __init__(self, conn: Connection, operation: Operation, stream: PushedStream, request_id: str) -> None:
        self._conn = conn
        self._operation = operation
        self._stream = stream
        self._request_id = request_id
        self.share: Hashable | None = stream.share
        """A stream's share is fixed when it starts: read once here, not through two properties per member and
        message in the hub's fan-out."""

    async def encode(self, rows: list[Any]) -> EncodedBatch | None:
        batch = await encoded_batch(self._stream, rows, self._request_id)
        return batch if batch.shared else None

    def write(self, encoded: Any) -> bool:
        return self._conn.write_through(self._operation, encoded)


async def _send_result(conn: Connection, operation: Operation, body: dict[str, Any]) -> None:
    limit = conn.settings.graphql_max_response_bytes
    size = len(orjson.dumps(body))
    if size > limit:  # the same bound as the HTTP endpoint's answers
        error = BadRequest(
            f"the response is {size} bytes, over the {limit} served: ask for smaller pages or fewer fields",
            code="response_too_large",
        )
        await conn.error(operation, [graphql_error(rendered_error(error, conn.scope))])
        return
    await conn.send({"id": operation.id, "type": conn.dialect.next, "payload": body}, operation)
