"""One GraphQL WebSocket connection: the protocol's state machine (see the package docstring).

Two tasks per connection: the reader (client messages, in order) and the writer (the `Outbox` to the socket);
plus one task per running operation (`operations.run_operation`). The connection_init deadline is one loop
timer; keep-alive pings on idle connections and the watch on a write that does not go out run from the
replica's shared `ticker.Ticker` (`Connection._tick`), not from a timer task per connection. A subscription's rows
skip the writer when nothing is queued or being written (`Connection._write_now`), and live rows are mostly
written by the subscription hub itself while the operation's task stays parked (`Connection.write_through`).
`close` ends them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import Scope
from starlette.websockets import WebSocket

from api.errors import missing_api_key
from api.graphql_ws import messages
from api.graphql_ws.batches import EncodedBatch
from api.graphql_ws.messages import Dialect, encode, text_frame
from api.graphql_ws.outbox import Outbox, Outgoing, Stalled
from api.middleware.allowlist import allowlist_refusal
from api.middleware.asgi import bearer_token
from api.middleware.auth import AuthRefusal, Principal, audit_auth, authenticate
from api.middleware.ratelimit import spend_request
from api.state import AppState
from core.errors import FlowError
from core.validation import shape_problem
from services.subscriptions import SlowConsumer
from storage.db import database_unavailable

log = logging.getLogger("obsrvr_flow.api")

CLOSE_SECONDS = 5.0
"""How long a close waits for the socket (a client that stopped reading holds its close frame too)."""
DRAIN_SECONDS = 5.0
"""How long a slow consumer's close waits for the rows already queued for it to be written."""


@dataclass(eq=False)
class Operation:
    """A running operation: its task, whether it is a subscription (counted for the connection's cap), the id
    of the last row written to the socket for it, and whether the client stopped it."""

    id: str
    task: asyncio.Task[None] | None = None
    subscription: bool = False
    written: str | None = None
    stopped: bool = False
    head: bytes | None = None
    """The start of its ``next`` messages up to the payload, encoded once."""
    after: str = "now"
    """The ``after`` it subscribed with: its resume point while no row was written for it."""


class ConnectionEnded(Exception):
    """A write failed: the client went away and the connection is ending (its tasks are being cancelled)."""


def close_code(error: FlowError) -> int:
    """The close code of a refusal at connection_init, from its HTTP status."""
    if error.status == 401:
        return messages.UNAUTHORIZED
    if error.status in (403, 404):  # another tenant's key answers like a tenant that does not exist
        return messages.FORBIDDEN
    if error.status == 429:
        return messages.TOO_MANY_REQUESTS
    if error.status == 400:
        return messages.BAD_REQUEST
    return messages.TRY_AGAIN_LATER if error.status == 503 else messages.INTERNAL_ERROR


@dataclass(eq=False)
class Connection:
    websocket: WebSocket
    dialect: Dialect
    state: AppState
    principal: Principal | None = None
    operations: dict[str, Operation] = field(default_factory=dict)
    closed: bool = False

    def __post_init__(self) -> None:
        settings = self.state.settings
        self.settings = settings
        self.outbox = Outbox(
            settings.subscription_send_buffer_messages, settings.subscription_send_buffer_bytes
        )
        self._secret = ""
        self._init_received = False
        self._admitted = False
        self._sent = False
        # A future, not an Event and a task waiting on it: `run` waits on it directly (less per connection).
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer: asyncio.Task[None] | None = None
        self._writing_since: float | None = None
        """When the writer's current frame went to the server's socket (None: not writing): a frame that does
        not go out for `websocket_ping_seconds` means the client stopped reading (the socket's buffers are full)."""
        self._slow = False
        extension = self.scope.get("extensions", {}).get(messages.FRAMES_EXTENSION)
        self.raw = isinstance(extension, dict) and extension.get("raw") is True
        """The server takes whole frames (`messages.RAW_FRAMES`): messages are framed here, rows once per batch."""
        self._batched = extension is not None
        """The server takes several messages in one send (`messages.FRAMES_EXTENSION`)."""
        write_now = extension.get(messages.WRITE_NOW) if self.raw else None
        self._write_frames_now: Callable[[bytes], bool] | None = write_now if callable(write_now) else None
        """The server's synchronous write of whole frames (`messages.WRITE_NOW`), when it offers one."""
        if isinstance(extension, dict):  # the server's keep-alive gave up: close with the resume id, not 1011
            extension["unresponsive"] = self._unresponsive
        self._unresponsive_task: asyncio.Task[None] | None = None
        self._timeout_task: asyncio.Task[None] | None = None
        self._next_ping = 0.0

    @property
    def scope(self) -> Scope:
        return self.websocket.scope

    # -- running ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._writer = asyncio.create_task(self._write())
        init_deadline = loop.call_later(self.settings.websocket_init_timeout_seconds, self._init_expired)
        interval = self.settings.websocket_ping_seconds
        self._next_ping = loop.time() + interval
        ticker = self.state.websockets.ticker(interval / 2)
        ticker.add(id(self), self._tick)
        reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait({reader, self._done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ticker.discard(id(self))
            init_deadline.cancel()
            tasks = [reader, self._writer]
            for extra in (self._unresponsive_task, self._timeout_task):
                if extra is not None:
                    tasks.append(extra)
            tasks += [op.task for op in self.operations.values() if op.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._admitted and self.principal is not None:
                self.state.websockets.release(id(self), self.principal.tenant.id, self._secret)
            self.closed = True

    async def close(self, code: int, text: str = "") -> None:
        """Close the socket with `code` (what is still queued is dropped) and end the connection."""
        if self.closed:
            return
        self.closed = True
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code, messages.reason(text)), CLOSE_SECONDS)
        self._finish()

    async def send(self, message: dict[str, Any], operation: Operation | None = None) -> None:
        await self.outbox.put(Outgoing(self._frame(encode(message)), operation))

    def _frame(self, data: bytes) -> bytes:
        return text_frame(data) if self.raw else data

    async def push(self, operation: Operation, batch: EncodedBatch) -> None:
        """Hand rows' ``next`` messages (``data`` in the legacy protocol), their payloads already encoded, to the
        socket: at once from this task when nothing is queued or being written (`_write_now`), else through the
        send buffer as one item (counted as one message per row). Frames are made by splicing the operation's id
        into the batch's (`EncodedBatch.frames`)."""
        head = self._head(operation)
        last = batch.row_ids[-1]
        if self._batched and self._may_write_now(operation):
            await self._write_now(operation, batch, head, last)
            return
        if self.raw:
            message = Outgoing(batch.frames(head), operation, last, count=len(batch))
        else:
            message = Outgoing(b"", operation, last, messages=batch.messages(head), count=len(batch))
        try:
            # A client that lets the buffer stay full for a keep-alive interval does not read: a slow consumer.
            await self.outbox.put(message, self.settings.websocket_ping_seconds)
        except Stalled:
            raise SlowConsumer(operation.written or operation.after) from None

    def _head(self, operation: Operation) -> bytes:
        head = operation.head
        if head is None:
            head = operation.head = (
                b'{"id":'
                + orjson.dumps(operation.id)
                + b',"type":"'
                + self.dialect.next.encode()
                + b'","payload":'
            )
        return head

    def _may_write_now(self, operation: Operation) -> bool:
        """Whether rows of `operation` may skip the send buffer: nothing queued or being written (order), and not
        once a slow consumer's close began or the connection closes (that close fixes its resume id from what
        was written, and the writer it cancels leaves the buffer idle: a direct write then would send rows past
        that id, which the client would get twice on resuming), nor once the client stopped the operation."""
        return (
            not self.closed
            and not self._slow
            and not operation.stopped
            and self._writing_since is None
            and not self.outbox.busy
        )

    def write_through(self, operation: Operation, batch: EncodedBatch) -> bool:
        """The batch written to the socket in this call, for the subscription hub (`operations.WriteThrough`,
        the operation's consumer parked): True when written, False with nothing done (the server offers no
        synchronous write, the connection is busy or closing, the socket is not writable): the hub then hands
        the rows to the operation's consumer, which pushes them the usual way."""
        write = self._write_frames_now
        if write is None or not self._may_write_now(operation):
            return False
        if not write(batch.frames(self._head(operation))):
            return False
        self._sent = True
        operation.written = batch.row_ids[-1]
        return True

    @property
    def writes_through(self) -> bool:
        """The server takes frames synchronously (`messages.WRITE_NOW`): the hub may write rows through."""
        return self._write_frames_now is not None

    async def _write_now(self, operation: Operation, batch: EncodedBatch, head: bytes, last: str) -> None:
        """The batch to the server from the producer's task, without waking the writer: the writer's hop (the
        send buffer's put and get, one more task step) was, per subscriber and ledger, a large part of the
        server's CPU at 1,000 subscribers. In order: nothing was queued or being written, and the next producer
        sees `_writing_since` set until this returns. A client that does not read holds this send (the server's
        transport is paused): the timer sees `_writing_since` grow old and closes it as a slow consumer, as it
        does a stalled writer; the rows of this batch are then not written and `Operation.written` says so."""
        send: dict[str, Any] = {"type": "websocket.send"}
        if self.raw:
            frames = batch.frames(head)
            if self._write_frames_now is not None and self._write_frames_now(frames):
                self._sent = True  # written in this call: no ASGI send, no await (`messages.WRITE_NOW`)
                operation.written = last
                return
            send[messages.RAW_FRAMES] = frames
        else:
            send[messages.FRAMES_EXTENSION] = batch.messages(head)
        self._writing_since = started = asyncio.get_running_loop().time()
        try:
            await self.websocket.send(send)
        except Exception:  # the client went away (or the server's socket failed): the connection ends
            self._finish()
            raise ConnectionEnded from None
        finally:
            if self._writing_since == started:  # not the writer's stamp, should it have started meanwhile
                self._writing_since = None
        self._sent = True
        operation.written = last

    async def _write(self) -> None:
        try:
            await self._write_all()
        except Exception:  # the client went away (or the server's socket failed): the connection ends
            self._finish()

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    async def _write_all(self) -> None:
        if self._batched:
            await self._write_batches()
            return
        while True:
            item = await self.outbox.get()
            try:
                operation = item.operation
                if operation is not None and operation.stopped:
                    continue  # the client completed it: nothing more goes out for it
                self._writing_since = asyncio.get_running_loop().time()
                for data in item.messages if item.messages is not None else (item.data,):
                    await self.websocket.send({"type": "websocket.send", "text": data.decode()})
                self._sent = True
                if item.row_id is not None and operation is not None:
                    operation.written = item.row_id
            finally:
                self._writing_since = None
                self.outbox.done()

    async def _write_batches(self) -> None:
        """Everything queued in one send (a ledger's rows for a subscriber): the ASGI hand-over, the middleware
        on the way and the server's checks were, per message, a third of the cost of a delivery at 1,000
        subscribers; the server frames each message as before and writes them with one system call."""
        loop = asyncio.get_running_loop()
        while True:
            items = await self.outbox.get_all()
            try:
                going = [item for item in items if item.operation is None or not item.operation.stopped]
                if not going:
                    continue
                send: dict[str, Any] = {"type": "websocket.send"}
                if self.raw:
                    send[messages.RAW_FRAMES] = b"".join(item.data for item in going)
                else:
                    frames: list[bytes] = []
                    for item in going:
                        frames.extend(item.messages if item.messages is not None else (item.data,))
                    send[messages.FRAMES_EXTENSION] = frames
                self._writing_since = loop.time()
                await self.websocket.send(send)
                self._sent = True
                for item in items:  # all handed to the server together: every row is written
                    if item.row_id is not None and item.operation is not None:
                        item.operation.written = item.row_id
            finally:
                self._writing_since = None
                for _ in items:
                    self.outbox.done()

    def _init_expired(self) -> None:
        """The connection_init deadline (one loop timer, cancelled when the connection ends)."""
        if self.principal is None and not self._init_received and not self.closed:
            self._timeout_task = asyncio.create_task(
                self.close(messages.TIMEOUT, "connection initialisation timeout")
            )

    def _tick(self, now: float) -> None:
        """Every half ping interval, from the replica's shared `Ticker`: the stalled writer's watch (a stall is
        seen within 1.5 intervals; uvicorn's own ping fails after 1 + 3 under `serve`) and the keep-alive pings
        of idle connections."""
        interval = self.settings.websocket_ping_seconds
        since = self._writing_since
        if since is not None and now - since >= interval:
            self.state.websockets.ticker(interval / 2).discard(id(self))
            self._unresponsive()
            return
        if now >= self._next_ping:
            # Idle: nothing written for an interval and nothing waiting (a full buffer is not idle, and the
            # keep-alive must not wait for room in it: queued only into an empty buffer).
            if not self._sent and not len(self.outbox) and self.principal is not None and not self.closed:
                self.outbox.put_nowait(Outgoing(self._frame(encode({"type": self.dialect.keepalive}))))
            self._sent = False
            self._next_ping = now + interval

    def _unresponsive(self) -> None:
        """The server's keep-alive got no pong in time: a client that stopped reading while rows trickle (its
        buffers never fill, so the writer never stalls) or a dead peer. Closed like a stalled writer."""
        if self._unresponsive_task is None and not self.closed:
            self._unresponsive_task = asyncio.create_task(self._stalled())

    async def _stalled(self) -> None:
        """The writer has waited a whole interval on a client that does not read: close it as a slow consumer
        of its first subscription (rows were written for it up to `Operation.written`); the others' clients
        resume from the last `extensions.id` they received."""
        subscriptions = [op for op in self.operations.values() if op.subscription]
        if subscriptions:
            written = [op for op in subscriptions if op.written is not None]
            operation = (written or subscriptions)[0]
            await self.slow_consumer(operation, operation.written or operation.after)
        else:
            await self.close(messages.TIMEOUT, "slow_consumer")

    # -- reading ---------------------------------------------------------------------------------------------

    async def _read(self) -> None:
        limit = self.settings.websocket_max_message_bytes
        while not self.closed:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            raw = data.encode() if data is not None else message.get("bytes") or b""
            if len(raw) > limit:
                await self.close(messages.BAD_REQUEST, f"bad_message: over {limit} bytes")
                return
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await self.close(messages.BAD_REQUEST, "bad_message: not JSON")
                return
            problem = shape_problem(parsed, max_values=None)
            if problem is not None:  # variables, payloads: see core.validation.check_json_shape
                await self.close(messages.BAD_REQUEST, f"bad_message: {problem}")
                return
            if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
                await self.close(messages.BAD_REQUEST, 'bad_message: expected an object with a "type"')
                return
            await self._dispatch(parsed)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        legacy = self.dialect.legacy
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == self.dialect.subscribe:
            await self._subscribe(message)
        elif kind == self.dialect.stop:
            await self._stop(message.get("id"))
        elif kind == "ping" and not legacy:
            pong: dict[str, Any] = {"type": "pong"}
            if "payload" in message:
                pong["payload"] = message["payload"]
            await self.send(pong)
        elif kind == "pong" and not legacy:
            pass
        elif kind == "connection_terminate" and legacy:
            await self.close(1000)
        else:
            await self.close(messages.BAD_REQUEST, f"bad_message: unknown type {kind[:40]!r}")

    # -- connection_init -------------------------------------------------------------------------------------

    async def _init(self, payload: Any) -> None:
        if self._init_received:
            await self.close(messages.TOO_MANY_REQUESTS, "too many initialisation requests")
            return
        self._init_received = True
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.close(
                messages.BAD_REQUEST, "bad_message: the connection_init payload is not an object"
            )
            return
        try:
            principal = await self._authenticate(payload)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            await self._refuse(messages.TRY_AGAIN_LATER, "database_unavailable: retry shortly")
            return
        if principal is None:
            return
        api = principal.tenant.config.customer.api
        if not self.state.websockets.admit(
            id(self), principal.tenant.id, self._secret, api.max_websocket_connections, self._revoked
        ):
            await self._refuse(
                messages.TOO_MANY_REQUESTS,
                f"too_many_connections: at most {api.max_websocket_connections} WebSocket connections",
            )
            return
        self._admitted = True
        self.principal = principal
        await self.send({"type": "connection_ack"})
        if self.dialect.legacy:
            await self.send({"type": "ka"})

    async def _authenticate(self, payload: dict[str, Any]) -> Principal | None:
        """The connection's principal: the payload's key (checked like a request's header, with the allowlist
        and rate limit), or the upgrade header's (checked by the middleware); None once refused and closed."""
        upgraded: Principal | None = self.scope.get("state", {}).get("principal")
        header_secret = bearer_token(self.scope)
        secret = messages.key_from_payload(payload)
        tenant_id = self.scope["path_params"]["customer_id"]
        if secret is None or (upgraded is not None and secret == header_secret):
            if upgraded is None:
                refusal = AuthRefusal(missing_api_key(), None)
                await audit_auth(self.state, self.scope, tenant_id, 401, refusal=refusal)
                await self._refuse(messages.UNAUTHORIZED, _text(refusal.error))
                return None
            self._secret = header_secret
            return upgraded
        try:
            principal = await authenticate(self.state, tenant_id, secret)
        except AuthRefusal as refusal:
            await audit_auth(self.state, self.scope, tenant_id, refusal.error.status, refusal=refusal)
            await self._refuse(close_code(refusal.error), _text(refusal.error))
            return None
        refused = allowlist_refusal(self.scope, principal) or (await spend_request(self.state, principal))[1]
        await audit_auth(
            self.state, self.scope, tenant_id, refused.status if refused else 101, principal=principal
        )
        if refused is not None:
            await self._refuse(close_code(refused), _text(refused))
            return None
        self.state.usage.record(principal.tenant.id, principal.key_id, "websocket")
        self._secret = secret
        return principal

    async def _refuse(self, code: int, text: str) -> None:
        if self.dialect.legacy:  # its clients read the reason from connection_error
            with contextlib.suppress(Exception):
                await self.websocket.send_text(
                    encode({"type": "connection_error", "payload": {"message": text}}).decode()
                )
        await self.close(code, text)

    async def _revoked(self) -> None:
        await self.close(messages.UNAUTHORIZED, "invalid_api_key: the API key was revoked")

    # -- operations ------------------------------------------------------------------------------------------

    async def _subscribe(self, message: dict[str, Any]) -> None:
        from api.graphql_ws.operations import run_operation

        if self.principal is None:
            await self.close(messages.UNAUTHORIZED, "unauthorized: wait for connection_ack")
            return
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not 0 < len(op_id) <= messages.MAX_OPERATION_ID:
            await self.close(
                messages.BAD_REQUEST, "bad_message: an operation id is a string of 1-128 characters"
            )
            return
        if not isinstance(payload, dict):
            await self.close(
                messages.BAD_REQUEST, "bad_message: the payload is not an object {query, variables}"
            )
            return
        if op_id in self.operations:
            if not self.dialect.legacy:
                await self.close(messages.DUPLICATE_ID, f"subscriber for {op_id} already exists")
                return
            await self._stop(op_id, reply=False)  # subscriptions-transport-ws replaces the operation
        operation = Operation(op_id)
        self.operations[op_id] = operation
        operation.task = asyncio.create_task(run_operation(self, operation, payload))

    def finished(self, operation: Operation) -> None:
        if self.operations.get(operation.id) is operation:
            del self.operations[operation.id]

    def subscriptions(self) -> int:
        return sum(1 for op in self.operations.values() if op.subscription)

    async def _stop(self, op_id: Any, *, reply: bool = True) -> None:
        operation = self.operations.pop(op_id, None) if isinstance(op_id, str) else None
        if operation is None:
            return
        operation.stopped = True
        if operation.task is not None:
            operation.task.cancel()
            await asyncio.gather(operation.task, return_exceptions=True)
        if self.dialect.legacy and reply:
            await self.send({"id": op_id, "type": "complete"})

    async def error(self, operation: Operation, errors: list[dict[str, Any]]) -> None:
        await self.send({"id": operation.id, "type": "error", "payload": self.dialect.error_payload(errors)})

    async def complete(self, operation: Operation) -> None:
        await self.send({"id": operation.id, "type": "complete"}, operation)

    async def slow_consumer(self, operation: Operation, resume_after: str) -> None:
        """Close 4408 naming the id to resume `operation` from: the last row written for it, once what was
        already queued is written (the client then has every row up to it)."""
        if self.closed or self._slow:
            return
        self._slow = True
        current = asyncio.current_task()
        for other in list(self.operations.values()):
            if other is not operation and other.task is not None and other.task is not current:
                other.task.cancel()
        if self._writing_since is None:  # the writer moves: what is queued may still go out
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.drained(), DRAIN_SECONDS)
        resume = operation.written or resume_after
        await self.close(messages.TIMEOUT, f"slow_consumer after={resume} id={operation.id}")


def _text(error: FlowError) -> str:
    return f"{error.code}: {error.message}"
