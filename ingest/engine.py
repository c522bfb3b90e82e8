"""The ingestion engine: raw ledgers in, every tenant's rows out, exactly once.

Per ledger: decode once into a `LedgerView` (whatever the number of tenants), run `extract` of each processor
that any tenant of the network enables, filter per tenant with that tenant's processor config (`select`), and
tag each row with its tenant. Per batch of ledgers: write all tenants' rows and the checkpoints in ONE
transaction, with idempotent writes on each table's natural key, so re-ingesting any range changes nothing and a
crash leaves either the whole batch or none of it. After commit, the commit hooks run (pub/sub publishing,
webhook hand-off): side effects only ever follow a commit.

`process_ledger` is pure and synchronous (it runs in a worker process when decoding is spread over cores);
`IngestEngine.write_batch` does the I/O.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.settings import NETWORK_PASSPHRASES, Network
from core.tenant_config import TenantConfig
from ingest.metrics import NO_INGEST_METRICS, IngestMetrics
from ledgers.model import gc_paused
from ledgers.view import LedgerView
from processors.base import Processor
from processors.registry import default_registry
from storage import ingest_totals, ingested_ranges
from storage.checkpoints import Checkpoints
from storage.hot_writes import write_mode, write_tables
from storage.partitions import ensure_partitions

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]
# tenant id -> processor name -> table name -> rows
TenantRows = dict[str, dict[str, dict[str, Rows]]]
CommitHook = Callable[["CommittedBatch"], Awaitable[None]]


class Outbox(Protocol):
    """Records the webhook messages of a batch inside the batch's transaction (`services.webhooks.recorder`), so
    rows and their messages commit together or not at all."""

    async def record(
        self, conn: AsyncConnection, rows: TenantRows, tables: Mapping[str, Table]
    ) -> Mapping[str, int]:
        """Record the messages of `rows` (tenant -> processor -> table -> rows) on `conn`; ids already recorded
        are skipped. Returns endpoint id -> messages of this batch for it (the endpoints to deliver to)."""
        ...


@dataclass(frozen=True)
class TenantPlan:
    """One tenant's share of a network's ingestion: its enabled processors (with extractors) and configs."""

    tenant_id: str
    processors: tuple[tuple[Processor[Any], BaseModel], ...]

    def __reduce__(self) -> tuple[Any, ...]:
        # A plan travels to the decoding processes with every ledger. A processor of the service's own registry
        # goes by name (its tables and listings pickle to ~80 KB, ~12 ms to unpickle per ledger); any other one
        # (a test's) as itself.
        return (
            _restore_plan,
            (self.tenant_id, tuple((_by_name(p), config) for p, config in self.processors)),
        )


def _by_name(processor: Processor[Any]) -> Processor[Any] | str:
    try:
        registered = default_registry().by_name(processor.name)
    except KeyError:
        return processor
    return processor.name if registered is processor else processor


def _restore_plan(
    tenant_id: str, processors: tuple[tuple[Processor[Any] | str, BaseModel], ...]
) -> TenantPlan:
    registry = default_registry()
    return TenantPlan(
        tenant_id,
        tuple((registry.by_name(p) if isinstance(p, str) else p, config) for p, config in processors),
    )


def plan_tenants(
    configs: Iterable[TenantConfig], catalogue: Mapping[str, Processor[Any]], network: Network
) -> list[TenantPlan]:
    """Plans for the tenants of `network`; processors with nothing to do at ingestion yet are left out."""
    plans = []
    for config in configs:
        if config.customer.network != network:
            continue
        chosen = []
        for entry in config.enabled_processors():
            processor = catalogue[entry.type]
            if processor.extract is not None or processor.after_write is not None:
                chosen.append((processor, entry.config))
        plans.append(TenantPlan(config.customer.id, tuple(chosen)))
    return plans


@dataclass
class LedgerResult:
    """What one ledger produced for every tenant (not yet written)."""

    sequence: int
    closed_at: datetime
    rows: TenantRows
    decoder_fallback: str | None = None
    """Why the fast decoder handed this ledger to stellar-sdk (counted when its batch commits), or None."""


def process_ledger(
    raw: bytes, passphrase: str, plans: Sequence[TenantPlan], decoder: Literal["fast", "sdk"] = "fast"
) -> LedgerResult:
    """Decode once, extract once per processor, select per tenant. Pure; no I/O."""
    # The decoded ledger is ~1M objects that live until this returns: with the cyclic collector running,
    # every collection in between walks all of them (measured: half the time of a ledger). Nothing here
    # makes reference cycles worth collecting early. The view is dropped BEFORE the collector is re-enabled:
    # reference counting frees its (acyclic) objects, which also takes them off the collector's count; left
    # alive past the re-enable, the first allocation after it started a collection that walked the whole
    # ledger once more (measured: ~14% of the pipeline's time, issue 16).
    with gc_paused():
        view = LedgerView.from_xdr(raw, passphrase, decoder)
        extract = functools.partial(_extract, view)
        result = tenant_rows(view.sequence, view.closed_at, extract, plans, fresh=True)
        result.decoder_fallback = view.decoder_fallback
        del view, extract
    return result


def _extract(view: LedgerView, processor: Processor[Any]) -> Mapping[str, Rows]:
    return processor.extract(view) if processor.extract is not None else {}


def tenant_rows(
    sequence: int,
    closed_at: datetime,
    extract: Callable[[Processor], Mapping[str, Rows]],
    plans: Sequence[TenantPlan],
    *,
    fresh: bool = False,
) -> LedgerResult:
    """Every plan's rows of one ledger: `extract` runs once per processor the plans name, then each tenant's
    `select` of its rows, stamped with the tenant id. Apart from the decoding so that the tests can run it on
    rows extracted once per test session (tests/corpus.py).

    With `fresh` (`extract` builds new rows for this call only, as `process_ledger`'s does), the last plan's rows
    are stamped in place instead of copied: no plan after it reads them, and every plan before it copied what it
    took. With one tenant, the usual case, no row is copied (copying was ~2-4% of `process_ledger`, issue 16)."""
    extracted: dict[str, Mapping[str, Rows]] = {}
    result: TenantRows = {}
    last = len(plans) - 1
    for number, plan in enumerate(plans):
        stamp = _stamped_in_place if fresh and number == last else _stamped_copies
        per_processor: dict[str, dict[str, Rows]] = {}
        for processor, config in plan.processors:
            if processor.name not in extracted:
                extracted[processor.name] = extract(processor)
            rows = extracted[processor.name]
            selected = processor.select(rows, config) if processor.select is not None else rows
            per_processor[processor.name] = {
                table: stamp(table_rows, plan.tenant_id) for table, table_rows in selected.items()
            }
        result[plan.tenant_id] = per_processor
    return LedgerResult(sequence, closed_at, result)


def _stamped_copies(rows: Rows, tenant_id: str) -> Rows:
    return [{**row, "tenant_id": tenant_id} for row in rows]


def _stamped_in_place(rows: Rows, tenant_id: str) -> Rows:
    for row in rows:
        row["tenant_id"] = tenant_id
    return list(rows)


@dataclass(frozen=True)
class CommittedBatch:
    """A batch that is durably written: handed to the commit hooks (with the tables its rows belong to)."""

    network: Network
    first_ledger: int
    last_ledger: int
    rows: TenantRows
    tables: Mapping[str, Table]
    webhook_messages: Mapping[str, int] = field(default_factory=dict)
    """Endpoint id -> webhook messages recorded with this batch (what the delivery hook wakes up)."""


@dataclass
class IngestEngine:
    """Writes ledger results in batches, one transaction each, then runs the commit hooks."""

    engine: AsyncEngine
    network: Network
    hooks: Sequence[CommitHook] = ()
    plans: Sequence[TenantPlan] = ()
    metrics: IngestMetrics = NO_INGEST_METRICS
    outbox: Outbox | None = None
    decoder: Literal["fast", "sdk"] = "fast"
    """The decoder `ingest_stream` hands to `process_ledger` (`Settings.decoder`)."""
    _months_ready: set[tuple[str, int, int]] = field(default_factory=set)

    @property
    def _plans(self) -> dict[str, TenantPlan]:
        return {plan.tenant_id: plan for plan in self.plans}

    def _covered(self, results: Sequence[LedgerResult]) -> set[tuple[str, str]]:
        """`(tenant id, processor type name)` of every processor the batch was ingested for: those its first and
        last ledgers were extracted for (the plans may change between batches, never inside one), rows or not."""
        type_names = {p.name: p.type_name for plan in self.plans for p, _ in plan.processors}

        def pairs(result: LedgerResult) -> set[tuple[str, str]]:
            return {
                (tenant_id, type_names[name])
                for tenant_id, processors in result.rows.items()
                for name in processors
                if name in type_names
            }

        return pairs(results[0]) & pairs(results[-1])

    @property
    def tables(self) -> dict[str, Table]:
        """The tables of the planned processors, by name: what a batch's rows may be written to."""
        return {t.name: t for plan in self.plans for p, _ in plan.processors for t in p.tables}

    @property
    def passphrase(self) -> str:
        return NETWORK_PASSPHRASES[self.network]

    async def write_batch(
        self,
        results: Sequence[LedgerResult],
        checkpoint: str | None = None,
        overlap: Overlap | None = None,
    ) -> CommittedBatch:
        """Write every tenant's rows of `results` and advance the checkpoints, atomically.

        With `overlap`, this batch is written while the batch before it (the ledgers just before them) may still
        be in its own transaction (`ingest.stream`; issue 16, docs/decisions.md "overlap17"): it writes its
        history rows meanwhile, then waits for that batch to commit before anything else (current tables,
        derived state, checkpoints, commit), rolling back with `PreviousBatchFailed` if it did not; and it runs
        its commit hooks only once that batch's have run. History rows are insert-only and these ledgers' keys
        are their own, so nothing written before the wait can block, or be blocked by, the previous batch; every
        row both may lock (current and derived state, checkpoints) is written after it; so is a partition this
        batch must create (its DDL would queue behind the previous batch's locks while holding others)."""
        try:
            batch = await self._commit(results, checkpoint, overlap.previous_commit if overlap else None)
        except BaseException:
            if overlap is not None:  # not committed (or not known to be): the next batch must not follow it
                overlap.commit.cancel()
                overlap.published.cancel()
            raise
        if overlap is not None:
            overlap.commit.set_result(None)  # the next batch goes on now, not after this one's hooks
        if self.hooks or overlap is not None:
            # Shielded: the batch is committed, so its side effects must happen even when the caller is cancelled
            # now (a live tail handing over); the checkpoint has moved and nobody would send them later.
            hooks = asyncio.ensure_future(self._run_hooks(batch, overlap))
            # A strong reference: a shielded task outliving its caller must not be lost.
            _RUNNING_HOOKS.add(hooks)
            hooks.add_done_callback(_RUNNING_HOOKS.discard)
            await asyncio.shield(hooks)
        return batch

    async def _commit(
        self, results: Sequence[LedgerResult], checkpoint: str | None, previous: asyncio.Future[None] | None
    ) -> CommittedBatch:
        """`write_batch` up to its commit (see there for `previous`, the previous batch's commit)."""
        if not results:
            raise ValueError("empty batch")
        started = time.perf_counter()
        by_table: dict[str, Rows] = defaultdict(list)
        merged: TenantRows = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        for result in results:
            for tenant_id, processors in result.rows.items():
                for processor_name, tables in processors.items():
                    for table_name, rows in tables.items():
                        by_table[table_name].extend(rows)
                        merged[tenant_id][processor_name][table_name].extend(rows)
        first, last, closed_at = results[0].sequence, results[-1].sequence, results[-1].closed_at
        counts = {name: len(rows) for name, rows in by_table.items()}
        checkpoints = Checkpoints(self.engine)
        known = self.tables
        if self.engine.dialect.name == "postgresql":
            await self._ensure_partitions(by_table, results, known, previous)
        async with self.engine.begin() as conn:
            jobs = [(_table(known, name), table_rows) for name, table_rows in by_table.items()]
            await write_tables(conn, [job for job in jobs if write_mode(job[0]) == "insert"])
            if previous is not None:
                await _committed(previous)
            await write_tables(conn, [job for job in jobs if write_mode(job[0]) != "insert"])
            await self._after_write(conn, merged)
            recorded = await self.outbox.record(conn, merged, known) if self.outbox is not None else {}
            if checkpoint is not None:
                await checkpoints.set(conn, checkpoint, self.network.value, last, closed_at=closed_at)
            await checkpoints.set(
                conn,
                f"latest:{self.network.value}",
                self.network.value,
                last,
                closed_at=closed_at,
                forward_only=True,
            )
            # Service-wide totals for /metrics, committed with the rows they count (after the checkpoint
            # rows, which already serialise a network's batches).
            await ingest_totals.add(conn, self.network.value, len(results), counts)
            # What each tenant's processors now have, whoever ingests (`tenants status`), serialised the same way.
            await ingested_ranges.record(conn, first, last, self._covered(results))
        self.metrics.record_batch(self.network.value, len(results), counts, time.perf_counter() - started)
        for result in results:
            if result.decoder_fallback is not None:
                self.metrics.decoder_fallback(self.network.value, result.decoder_fallback)
        return CommittedBatch(self.network, first, last, _plain(merged), known, dict(recorded))

    async def _run_hooks(self, batch: CommittedBatch, overlap: Overlap | None) -> None:
        try:
            if overlap is not None and overlap.previous_published is not None:
                # The previous batch's hooks first: subscribers and webhooks see the batches in ledger order.
                await asyncio.wait([overlap.previous_published])
            for hook in self.hooks:
                try:
                    await hook(batch)
                except Exception:  # a hook failing must not undo or repeat a committed batch
                    log.exception(
                        "commit hook %r failed for ledgers %d-%d", hook, batch.first_ledger, batch.last_ledger
                    )
        finally:
            if overlap is not None and not overlap.published.done():
                overlap.published.set_result(None)

    async def _after_write(self, conn: AsyncConnection, merged: TenantRows) -> None:
        # Derived state (candles, custom token sums) is brought up to date in the same transaction.
        for tenant_id, processors in merged.items():
            plan = self._plans.get(tenant_id)
            if plan is None:
                continue
            tenant_rows = {name: dict(tables) for name, tables in processors.items()}
            for processor, config in plan.processors:
                if processor.after_write is not None:
                    written = await processor.after_write(conn, tenant_id, tenant_rows, config)
                    # History rows it derived (closed candles) are the batch's rows too: published after commit.
                    for table_name, rows in (written or {}).items():
                        processors.setdefault(processor.name, {}).setdefault(table_name, []).extend(rows)

    def _derived(self) -> list[Processor[Any]]:
        return [p for plan in self.plans for p, _ in plan.processors if p.after_write is not None]

    async def _ensure_partitions(
        self,
        by_table: Mapping[str, Rows],
        results: Sequence[LedgerResult],
        tables: Mapping[str, Table],
        previous: asyncio.Future[None] | None,
    ) -> None:
        # Monthly partitions must exist before rows land, or they go to the DEFAULT partition (slow to move
        # later); old history (a 2020 backfill) needs partitions far behind the ones kept ready ahead. This runs
        # apart from the write transaction, one short transaction per table (as `ensure_partitions_ahead`): the
        # partition function locks the parent table exclusively until commit, and holding those across the
        # write transaction (in varying order) deadlocks concurrent batches. One table at a time, so that it
        # never holds one table's lock while waiting for another's: waiting for a batch of another stream
        # (which holds that table while it waits, in Python, for its own previous batch's commit) while holding
        # a table that previous batch must still write (closed candles) would be a cycle PostgreSQL cannot see
        # (issue 16, docs/decisions.md "overlap17"). A month is remembered only once its transaction has
        # committed.
        months = sorted({(r.closed_at.year, r.closed_at.month) for r in results})
        # The history tables `after_write` may write (closed candles), whose rows are not in `by_table` yet.
        derived = {t.name for p in self._derived() for t in p.tables}
        missing = [
            (name, year, month)
            for name in sorted(set(by_table) | derived)
            if _table(tables, name).info.get("kind") == "history"
            for year, month in months
            if (name, year, month) not in self._months_ready
        ]
        if not missing:
            return
        if previous is not None:
            # The previous batch's transaction holds locks on these tables (and may read or write the one this
            # would lock first: closed candles) until it commits: creating a partition now could deadlock.
            await _committed(previous)
        tz = results[0].closed_at.tzinfo
        for name, year, month in missing:
            async with self.engine.begin() as conn:
                start = datetime(year, month, 1, tzinfo=tz)
                await ensure_partitions(conn, name, start, start)
            self._months_ready.add((name, year, month))


_RUNNING_HOOKS: set[asyncio.Future[None]] = set()


class PreviousBatchFailed(RuntimeError):
    """The batch written before this one did not commit: this one rolls back (its ledgers would follow a gap)."""


@dataclass(frozen=True)
class Overlap:
    """How a batch written beside the one before it keeps their order (`IngestEngine.write_batch`, which
    resolves this batch's futures, or cancels them when it does not commit)."""

    # This batch committed; its commit hooks ran.
    commit: asyncio.Future[None]
    published: asyncio.Future[None]
    # The previous batch's `commit` and `published` (None: no batch before this one).
    previous_commit: asyncio.Future[None] | None = None
    previous_published: asyncio.Future[None] | None = None


async def _committed(previous: asyncio.Future[None]) -> None:
    """Wait for the previous batch's commit (not cancelled with this task's own cancellation: it is the stream's
    to cancel); raise `PreviousBatchFailed` if it did not commit."""
    await asyncio.wait([previous])
    if previous.cancelled() or previous.exception() is not None:
        raise PreviousBatchFailed("the batch before this one was not committed")


def _table(tables: Mapping[str, Table], name: str) -> Table:
    try:
        return tables[name]
    except KeyError:
        raise LookupError(f"a processor produced rows for unknown table {name!r}") from None


def _plain(rows: Mapping[str, Mapping[str, Mapping[str, Rows]]]) -> TenantRows:
    return {t: {p: dict(tables) for p, tables in procs.items()} for t, procs in rows.items()}
