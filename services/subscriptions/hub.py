"""`SubscriptionHub`: the rows of GraphQL subscriptions, stored then live, each once and in id order.

One hub per API process (`api.state`), shared by every WebSocket connection:

- **Channels and groups.** Subscribers of one (tenant, listing, filters) form a group; the groups of a tenant's
  processor share one pub/sub subscription (`storage.row_wire.rows_channel`), opened with the first and closed with the
  last. A message's rows are matched once per group (`storage.row_match.row_matches`, the
  listing SQL's semantics) on their wire form, decoding only the columns the filters read, and only the matched
  rows are decoded whole (`storage.row_wire`; once per message, `_WireRow`), then handed to every member.
- **Positions.** Each member holds the id of the last row it took; a row at or before its tail is dropped
  (`members.Member.offer`), which makes the catch-up/live switch gap- and duplicate-free and keeps backfilled
  older rows out of a live stream (history comes from queries or `after:`).
- **Catch-up then live.** A member joins its group (so its buffer fills) before the first read; then its stream
  reads pages after its position through `QueryRouter.fetch` (hot and cold), one page per consumer pull, until a
  short page read after the last discard of its buffer and the last repair of its group; then the buffered rows
  after its position, then live rows.
- **Repair.** Pub/sub is at most once (and an ingest process may have none). A group remembers the last ledger
  it covered; a message starting past the next ledger, or a network whose latest ledger moved past it at the
  periodic `resync` (every `subscription_resync_seconds`), triggers one read after the lowest tail of its live
  members, handed to every member like a message.
- **Falling behind.** A live member's queue holds at most `subscription_send_buffer_messages` rows. When rows
  handed to it would overflow it (a consumer behind, or one message with more rows than the bound: mainnet
  ledgers can carry thousands of one tenant's transfers), its queue is dropped and its stream goes back to
  catching up from the last row it took, through the router (rows are committed before they are published, so
  nothing is lost), then live again by the same gap-free switch. The hub never ends a stream for slowness: a
  client that cannot keep up is closed by the WebSocket transport when its send buffer stays full
  (`api.graphql_ws`, 4408 with the id to resume from, `SlowConsumer`).
- **Written through, once per share group.** A member whose consumer registered a writer (`RowStream.
  write_through`: the WebSocket transport) and that is idle (`Member.idle`: live, nothing queued, its consumer
  parked with nothing in flight) gets a message's rows written to its client by the hub, from the dispatch: the
  rows are encoded once per share (`Writer.share`: members whose results are the same) and each idle member's
  writer splices its id in and writes, synchronously. At 1,000 subscribers that replaces, per member and ledger,
  a future, a task step and four async-generator layers. A member that is not idle, or whose writer refuses
  (the client's transport busy, paused or closing), is offered the rows as before, so order, exactly-once and
  the catch-up's buffering hold either way.
- **Full collections after a fan-out.** With a `collector` (`collector.QuietCollector`, as `obsrvr-flow serve`
  runs it), the garbage collector's full collections, which walk every connection's objects with the loop
  stopped, run a moment after a burst of messages rather than in the middle of a ledger's fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from core.ids import canonical_json
from core.settings import Settings
from processors.listing import Listing
from services.subscriptions.after import end_of_ledger, parse_after
from services.subscriptions.collector import QuietCollector
from services.subscriptions.members import Member, Row, Writer
from storage.pubsub import PubSub
from storage.query import MAX_LIMIT, Filter, Query
from storage.router import QueryRouter
from storage.row_match import row_matches
from storage.row_wire import MESSAGE_VERSION, column_decoders, rows_channel

log = logging.getLogger(__name__)

ENCODE_THROUGH_SECONDS = 1.0
"""How long the hub waits for a share group's rows to be encoded for writing through (`SubscriptionHub._deliver`)
before handing them to the members' consumers instead."""


class _WireRow(Mapping[str, Any]):
    """A row of a pub/sub message, decoded column by column as filters read it (`row_matches` reads a few), and
    whole (`row`) only when a group matched it: a ledger carries many rows of a tenant, a filter keeps a few.
    Both decodings are kept, so the groups of one message share them (each row is decoded at most once)."""

    __slots__ = ("_decoders", "_row", "_values", "_wire")

    def __init__(self, wire: Mapping[str, Any], decoders: Mapping[str, Callable[[Any], Any]]) -> None:
        self._wire = wire
        self._decoders = decoders
        self._values: dict[str, Any] = {}
        self._row: Row | None = None

    def get(self, key: str, default: Any = None) -> Any:
        values = self._values
        if key in values:
            return values[key]
        back = self._decoders.get(key)
        if back is None:  # not a column of the table: as a decoded row, which lacks it
            return default
        value = values[key] = back(self._wire.get(key))
        return value

    def __getitem__(self, key: str) -> Any:
        if key not in self._decoders:
            raise KeyError(key)
        return self.get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoders)

    def __len__(self) -> int:
        return len(self._decoders)

    @property
    def decoded(self) -> bool:
        return self._row is not None

    def row(self) -> Row:
        """The whole row, as `storage.row_wire.decode_rows` gives it (the router's form)."""
        if self._row is None:
            self._row = {name: self.get(name) for name in self._decoders}
        return self._row


def _wire_rows(table_columns: Mapping[str, Callable[[Any], Any]], wire: list[Any]) -> list[_WireRow]:
    """A message's rows of one table in id order (ids travel as they are stored: text), none decoded yet."""
    return [_WireRow(row, table_columns) for row in sorted(wire, key=lambda r: r["id"])]


@dataclass(eq=False)
class _Group:
    """Members sharing (tenant, listing, filters): matched once per message."""

    key: tuple[str, str, bytes]
    channel: str
    network: str
    query: Query
    members: set[Member] = field(default_factory=set)
    covered: int | None = None
    """The last ledger whose rows this group has been handed (by messages or repairs)."""
    repairs: int = 0


@dataclass(eq=False)
class _Channel:
    name: str
    groups: dict[tuple[str, str, bytes], _Group] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    joining: int = 0
    """Members between finding (or making) this channel and joining a group of it: the channel stays while
    there are any, even with no group left, and goes when the last of them gives up (cancelled, or the
    database failed) with no group there."""


class RowStream:
    """A member's rows one by one (`__anext__`: stored, then buffered, then live), and with `ready` the live rows
    already queued after the last one taken: a consumer takes a ledger's rows in one go."""

    def __init__(self, rows: AsyncGenerator[Row, None], member: Member) -> None:
        self._rows = rows
        self._member = member

    def __aiter__(self) -> RowStream:
        return self

    async def __anext__(self) -> Row:
        return await self._rows.__anext__()

    def write_through(self, writer: Writer | None) -> None:
        """Let the hub write this stream's live rows to the client itself while its consumer is idle
        (`members.Writer`; None: every row goes through the consumer again)."""
        self._member.writer = writer

    def ready(self) -> list[Row]:
        # Live means the catch-up's pages were all taken (`Member.go_live` runs after its last row), so the
        # queued rows come next in either path.
        return self._member.take_ready()

    async def aclose(self) -> None:
        await self._rows.aclose()


class SubscriptionHub:
    """Implements `resolvers.context.LiveRows` (see the module docstring)."""

    def __init__(
        self, pubsub: PubSub, router: QueryRouter, settings: Settings, collector: QuietCollector | None = None
    ) -> None:
        self._pubsub = pubsub
        self._collector = collector
        self._router = router
        self._page_rows = min(settings.subscription_catchup_page_rows, MAX_LIMIT)
        self._queue_rows = settings.subscription_send_buffer_messages
        self._resync_seconds = settings.subscription_resync_seconds
        self._channels: dict[str, _Channel] = {}
        self._resync_task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()  # cancelled listeners unsubscribing: kept referenced
        self._closed = False
        self.match_runs = 0
        """Group matchings run (one per group per message carrying its table): for tests and metrics."""
        self.rows_decoded = 0
        """Message rows decoded whole (rows some group matched, once each per message): for tests and metrics."""
        self.repair_reads = 0
        """Reads made to repair groups (rows no message brought)."""
        self.rows_from_buffer = 0
        """Rows handed from catch-up buffers at the switch to live (committed after the last page's read)."""
        self.buffer_discards = 0
        """Catch-up buffers thrown away when full (their rows then read from the stores), of closed streams."""
        self.fallbacks = 0
        """Live streams sent back to catching up because their queue would have overflowed."""
        self.written_through = 0
        """Batches the hub wrote to a member's client itself (`Member.writer`), waking no consumer."""
        self.encode_timeouts = 0
        """Share groups whose rows were not encoded within `ENCODE_THROUGH_SECONDS` (offered to the members)."""

    @property
    def channels(self) -> int:
        """Pub/sub channels listened on (one per tenant and processor with a stream open or joining)."""
        return len(self._channels)

    @property
    def subscribers(self) -> int:
        """Open streams (catching up or live)."""
        return sum(len(g.members) for c in self._channels.values() for g in c.groups.values())

    @property
    def live_subscribers(self) -> int:
        """Open streams past their catch-up."""
        return sum(
            not m.catching_up for c in self._channels.values() for g in c.groups.values() for m in g.members
        )

    @property
    def parked_subscribers(self) -> int:
        """Live streams whose consumer waits for rows (the ones the hub may write through)."""
        return sum(m.parked for c in self._channels.values() for g in c.groups.values() for m in g.members)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        tenant_id: str,
        network: str,
        listing: Listing[Any],
        filters: tuple[Filter, ...],
        after: str | None,
    ) -> AsyncIterator[AsyncIterator[Row]]:
        """The rows of `listing` matching `filters` after `after` (`after.parse_after`), then live ones; a bad
        `after` raises its 400 before anything is read or subscribed."""
        if self._closed:
            raise RuntimeError("the subscription hub is closed")
        query = Query(
            tenant_id, listing.table, tuple(filters), time_column=listing.time_column, limit=self._page_rows
        )
        start = parse_after(query, after)
        member = Member(start or "", self._queue_rows)
        group, latest = await self._join(rows_channel(tenant_id, listing.processor), network, query, member)
        if start is None:  # "now": after the network's latest ledger as the group's channel started to listen
            member.position = end_of_ledger(latest)
            member.go_live(member.position)
        rows = RowStream(self._rows(group, member, member.position, start is None), member)
        try:
            yield rows
        finally:
            self._leave(group, member)  # first: a consumer still waiting in another task is woken and ends
            with contextlib.suppress(RuntimeError):  # "already running": that consumer's task ends it
                await rows.aclose()

    async def _rows(
        self, group: _Group, member: Member, position: str, live: bool
    ) -> AsyncGenerator[Row, None]:
        while True:
            if not live:
                async for row in self._catch_up(group, member, position):
                    yield row
                live = True
            taken = member.take()
            if taken is not None:
                yield taken
                continue
            if member.closed:
                return
            if member.catching_up:  # its queue would have overflowed: read on from the last row it took
                self.fallbacks += 1
                position, live = member.position, False
                continue
            await member.wait()

    async def _catch_up(self, group: _Group, member: Member, position: str) -> AsyncGenerator[Row, None]:
        """Pages after `position` until a short one read after the last discard of the member's buffer and the
        last repair of its group; then the member is live (its buffered rows after the last page first)."""
        while True:
            marks = (member.discards, group.repairs)
            page = await self._router.fetch(group.query.replace(after=position))
            for row in page.rows:
                position = member.position = row["id"]
                yield row
            if not page.has_more and marks == (member.discards, group.repairs):
                member.go_live(position)
                self.rows_from_buffer += len(member.queue)
                return

    async def _join(self, name: str, network: str, query: Query, member: Member) -> tuple[_Group, int | None]:
        chan = self._channels.get(name)
        if chan is None:
            if self._collector is not None:
                self._collector.hold()
            chan = self._channels[name] = _Channel(name)
            chan.task = asyncio.create_task(self._listen(chan), name=f"subscriptions {name}")
        if self._resync_task is None:
            self._resync_task = asyncio.create_task(self._resync_loop(), name="subscriptions resync")
        chan.joining += 1
        try:
            await chan.ready.wait()
            # Read once the channel listens: every ledger after this one reaches the group by message or repair.
            latest = await self._router.latest_ledger(network)
            # Closed while this join waited: its channel listens no more, and its member would wait forever.
            if self._closed:
                raise RuntimeError("the subscription hub is closed")  # as `stream` refuses after close
        except BaseException:
            chan.joining -= 1
            self._drop_if_unused(chan)  # this join failed: its channel may serve nobody now
            raise
        chan.joining -= 1  # and its group is there before anything else runs
        described = sorted((f.describe() for f in query.filters), key=canonical_json)
        key = (query.tenant_id, query.table.name, canonical_json(described))
        group = chan.groups.get(key)
        if group is None:
            group = chan.groups[key] = _Group(key, name, network, query, covered=latest)
        group.members.add(member)
        return group, latest

    def _leave(self, group: _Group, member: Member) -> None:
        member.close()
        self.buffer_discards += member.discards
        group.members.discard(member)
        chan = self._channels.get(group.channel)
        if chan is None or group.members:
            return
        chan.groups.pop(group.key, None)
        self._drop_if_unused(chan)

    def _drop_if_unused(self, chan: _Channel) -> None:
        """Stop listening on `chan` if no group and no joining member uses it (a member joining keeps it)."""
        if chan.groups or chan.joining or self._channels.get(chan.name) is not chan:
            return
        del self._channels[chan.name]
        if not self._channels and self._collector is not None:
            self._collector.release()
        if chan.task is not None:
            chan.task.cancel()
            self._stopping.add(chan.task)
            chan.task.add_done_callback(self._stopping.discard)

    async def _listen(self, chan: _Channel) -> None:
        while not self._closed:
            try:
                async with self._pubsub.subscribe(chan.name) as messages:
                    chan.ready.set()
                    async for raw in messages:
                        await self._dispatch(chan, raw)
                        if self._collector is not None:
                            self._collector.after_message()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # Without pub/sub the periodic repair still brings the rows, a few seconds late.
                log.exception("subscription channel %s failed; retrying", chan.name)
                chan.ready.set()
                await asyncio.sleep(self._resync_seconds)

    async def _dispatch(self, chan: _Channel, raw: bytes) -> None:
        try:
            message = orjson.loads(raw)
            if message.get("v") != MESSAGE_VERSION:
                return
            first, last, tables = message["first_ledger"], message["last_ledger"], message["tables"]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning("subscription channel %s: unreadable message skipped", chan.name)
            return
        decoded: dict[str, list[_WireRow]] = {}
        async with chan.lock:
            for group in list(chan.groups.values()):
                if group.covered is not None and last > group.covered and first > group.covered + 1:
                    # Ledgers between what the group covered and this message: no rows, or a lost message.
                    if not await self._repair(group, last):
                        continue
                table = group.query.table
                wire = tables.get(table.name)
                if wire:
                    if table.name not in decoded:
                        decoded[table.name] = _wire_rows(column_decoders(table), wire)
                    await self._hand(group, decoded[table.name])
                if group.covered is None or last > group.covered:
                    group.covered = last
        self.rows_decoded += sum(row.decoded for rows in decoded.values() for row in rows)

    async def _hand(self, group: _Group, rows: Sequence[_WireRow]) -> None:
        self.match_runs += 1
        filters = group.query.filters
        matched = [row.row() for row in rows if row_matches(filters, row)]
        if matched:
            await self._deliver(group, matched)

    async def _deliver(self, group: _Group, rows: list[Row]) -> None:
        """`rows` (in id order) to every member of `group`: written through, encoded once per share, to the
        members that are idle (`Member.idle`); offered to the others (queued, buffered while catching up, or
        sending them back to catching up), whose consumers take them as before."""
        through: dict[Hashable, list[Member]] = {}
        for member in list(group.members):
            writer = member.writer
            share = writer.share if writer is not None else None
            if share is not None and member.idle(rows):
                through.setdefault(share, []).append(member)
            else:
                member.offer(rows)
        for sharing in through.values():
            writer = sharing[0].writer
            assert writer is not None
            try:
                # Bounded: this runs in the channel's listener under its lock, and encoding executes the
                # subscription's selection (resolvers): one slow resolver must not hold up every group of the
                # channel. Past the bound the members' consumers encode for themselves, as before.
                encoded = await asyncio.wait_for(writer.encode(rows), ENCODE_THROUGH_SECONDS)
            except TimeoutError:
                self.encode_timeouts += 1
                log.warning(
                    "subscription rows not encoded for writing through within %ss", ENCODE_THROUGH_SECONDS
                )
                encoded = None
            except Exception:  # the consumers meet the error on their own path (the operation reports it)
                log.debug("subscription rows not encoded for writing through", exc_info=True)
                encoded = None
            for member in sharing:
                # Checked again: encoding may have waited, and a write is refused once the client's transport
                # is busy or closing (a slow consumer's close has fixed its resume id: nothing goes out after it).
                if encoded is not None and member.idle(rows) and self._write(member, encoded):
                    member.wrote(rows)
                    self.written_through += 1
                else:
                    member.offer(rows)

    @staticmethod
    def _write(member: Member, encoded: Any) -> bool:
        writer = member.writer
        try:
            return writer is not None and writer.write(encoded)
        except Exception:  # one client's failed write must not keep the group's other members from their rows
            log.exception("subscription rows not written through")
            return False

    async def _repair(self, group: _Group, ledger: int) -> bool:
        """Read the group's rows after its live members' lowest tail and hand them over; the group then covers
        `ledger` (read before this). False when the stores could not be read (the next resync tries again)."""
        group.repairs += 1  # members still catching up read again rather than trust a page read before this
        live = [m for m in group.members if not m.catching_up and not m.closed]
        try:
            if live:
                position: str | None = min(m.tail for m in live)
                while position is not None:
                    page = await self._router.fetch(group.query.replace(after=position))
                    self.repair_reads += 1
                    if page.rows:
                        await self._deliver(group, list(page.rows))
                    position = page.rows[-1]["id"] if page.has_more else None
        except Exception:
            log.exception("subscription repair of %s failed", group.key[:2])
            return False
        group.covered = ledger if group.covered is None else max(group.covered, ledger)
        return True

    async def resync(self) -> int:
        """One repair pass: every group whose network's latest ledger moved past what it covered is read once
        (`_repair`). Returns how many groups were repaired. Runs every `subscription_resync_seconds`."""
        repaired = 0
        for chan in list(self._channels.values()):
            for group in list(chan.groups.values()):
                latest = await self._router.latest_ledger(group.network)
                if latest is None or (group.covered is not None and latest <= group.covered):
                    continue
                async with chan.lock:
                    repaired += await self._repair(group, latest)
        return repaired

    async def _resync_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._resync_seconds)
            try:
                await self.resync()
            except Exception:
                log.exception("subscription resync failed")
            if self._collector is not None:
                self._collector.overdue()

    async def close(self) -> None:
        """End every stream and background task (the pub/sub and router belong to the caller)."""
        self._closed = True
        if self._collector is not None:
            self._collector.release()
        tasks = [c.task for c in self._channels.values() if c.task is not None] + list(self._stopping)
        if self._resync_task is not None:
            tasks.append(self._resync_task)
        for chan in self._channels.values():
            chan.ready.set()  # a join waiting for its channel to listen goes on, and finds the hub closed
            for group in chan.groups.values():
                for member in group.members:
                    member.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._channels.clear()


if TYPE_CHECKING:  # the hub is what `RequestContext.live` takes (checked by mypy, structurally)
    from resolvers.context import LiveRows

    _FITS: type[LiveRows] = SubscriptionHub
