"""The query router: the one seam between the APIs and the stores (DESIGN "One storage seam").

Resolvers and REST routes build `Query` objects and call `fetch`, `count`, `lookup` and `net_flows` here;
nothing above `storage/` writes SQL or knows which tier a row lives in.

Tiers: a history table of a tenant with an archive watermark (`storage.cold.watermarks`) has its rows up to
the watermark's id in the cold tier (Parquet, `storage.cold.reader.ColdReader`) and the rest hot. Every read
then splits at the watermark: cold with `id <= last_id`, hot with `id > last_id` (hot rows at or below it may
linger until the next archival deletes them; they are never read). Ascending reads take cold first, then hot;
descending the other way; a page that crosses the boundary is the two parts concatenated, which is key order
because the tiers hold disjoint id ranges. Positions are row ids in both tiers, so one cursor pages across.
A tier the query's range or position excludes is not read.

Consistency with a running archival: the watermark is read again after the reads. Hot rows leave only after
the watermark that covers them commits, so an unchanged watermark proves the hot read missed nothing; a moved
one repeats the read.

`Page.sources` names the tiers whose rows are on the page, in the order ("cold", "hot") (a page with no rows:
the tiers read), so a page answered wholly from the archive says `["cold"]`. Answers derived from many reads
(balances summed from transfers, pair statistics folded from trades) learn their tiers from `recording()`: a
view of the router that gathers the tiers of every read made through it (`answered`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.cold.reader import ColdFile, ColdReader
from storage.cold.watermarks import Watermark, read_watermark
from storage.db import read_only
from storage.export_rows import iter_tenant_rows
from storage.flows import Flow, add_flow, net_flows, sum_legs
from storage.hot_query import count_rows, fetch_page, lookup_rows
from storage.ingest_totals import LEDGERS
from storage.query import Filter, Page, Query, Row
from storage.tables import checkpoints, ingest_totals

T = TypeVar("T")
_ATTEMPTS = 5  # reads repeated while an archival keeps moving the watermark; then the last one is served


def _cold_excluded(query: Query, watermark: Watermark) -> bool:
    """No cold row can match: the range starts after the archive, or an ascending position is past it."""
    if query.from_ledger is not None and query.from_ledger > watermark.last_ledger:
        return True
    if query.time_column == "closed_at" and query.from_time is not None:
        if query.from_time > watermark.last_closed_at:
            return True
    return not query.descending and query.after is not None and query.after >= watermark.last_id


def _hot_excluded(query: Query, watermark: Watermark) -> bool:
    """No hot row can match: the range ends before the watermark, or a descending position is below it."""
    if query.to_ledger is not None and query.to_ledger < watermark.last_ledger:
        return True
    if query.time_column == "closed_at" and query.to_time is not None:
        if query.to_time < watermark.last_closed_at:
            return True
    return query.descending and query.after is not None and query.after <= watermark.last_id


def _after_watermark(query: Query, watermark: Watermark) -> Query:
    return query.replace(filters=(*query.filters, Filter(("id",), "gt", watermark.last_id)))


@dataclass(frozen=True)
class DataVersion:
    """What stored rows of a network looked like when read: any committed batch, live or backfill, changes it."""

    latest_ledger: int | None
    ledgers_committed: int


async def _read_data_version(engine: AsyncEngine, network: str) -> DataVersion:
    latest = select(checkpoints.c.ledger).where(checkpoints.c.name == f"latest:{network}").scalar_subquery()
    committed = (
        select(ingest_totals.c.total)
        .where(ingest_totals.c.network == network, ingest_totals.c.subject == LEDGERS)
        .scalar_subquery()
    )
    async with engine.connect() as conn:
        row = (await conn.execute(select(latest, committed))).one()
    return DataVersion(
        latest_ledger=int(row[0]) if row[0] is not None else None,
        ledgers_committed=int(row[1]) if row[1] is not None else 0,
    )


class QueryRouter:
    """Answers `Query` objects for the API layers, from the hot store and (with `cold`) the cold tier."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        cold: ColdReader | None = None,
        latest_ledger_ttl: float = 1.0,
        on_cold_read: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        # Its reads (one or two SELECTs a checkout) run outside transactions on PostgreSQL; SQLite keeps one
        # snapshot per checkout (`storage.db.read_only`).
        self._reads = read_only(engine)
        self.cold = cold
        self._on_cold_read = on_cold_read
        self._latest_ttl = latest_ledger_ttl
        self._versions: dict[str, tuple[float, DataVersion]] = {}
        self._answered: set[str] | None = None

    def recording(self) -> QueryRouter:
        """This router (same engine, cold reader and caches) gathering in `answered` the tiers that answered each
        `fetch` and `net_flows` made through it: for an answer computed from several reads. One per answer."""
        view = copy.copy(self)
        view._answered = set()
        return view

    @property
    def answered(self) -> tuple[str, ...]:
        """The tiers that answered the reads made through this `recording()` view, in the order ("cold",
        "hot"); ("hot",) when none was made (or this is not a recording view)."""
        return tuple(t for t in ("cold", "hot") if t in (self._answered or ())) or ("hot",)

    def _record(self, sources: Sequence[str]) -> None:
        if self._answered is not None:
            self._answered.update(sources)

    async def _watermark(self, conn: AsyncConnection, tenant_id: str, table: Table) -> Watermark | None:
        if self.cold is None or table.info.get("kind") != "history":
            return None
        return await read_watermark(conn, tenant_id, table.name)

    async def _answer(
        self,
        tenant_id: str,
        table: Table,
        hot_only: Callable[[AsyncConnection], Awaitable[T]],
        tiered: Callable[[Watermark, list[ColdFile] | None], Awaitable[tuple[T, bool]]],
        manifest: Callable[[AsyncConnection, Watermark], Awaitable[list[ColdFile] | None]] | None = None,
    ) -> T:
        """`hot_only(conn)` when the table has no watermark (on the connection that read it: one checkout, as
        before the cold tier); else `tiered(watermark, files)` (its answer, and whether it read cold) until the
        watermark holds still across it. `manifest(conn, watermark)` reads the cold files on the connection that
        read the watermark (a checkout fewer per answer); a moved watermark's files are read again by the tier."""
        files: list[ColdFile] | None = None
        async with self._reads.connect() as conn:
            watermark = await self._watermark(conn, tenant_id, table)
            if watermark is None:
                return await hot_only(conn)
            if manifest is not None:
                files = await manifest(conn, watermark)
        for _ in range(_ATTEMPTS):
            answer, read_cold = await tiered(watermark, files)
            async with self._reads.connect() as conn:
                moved = await self._watermark(conn, tenant_id, table)
            if moved == watermark or moved is None:
                break
            watermark, files = moved, None
        if read_cold and self._on_cold_read is not None:
            self._on_cold_read(tenant_id)
        return answer

    async def fetch(self, query: Query) -> Page:
        async def hot_only(conn: AsyncConnection) -> Page:
            rows, has_more = await fetch_page(conn, query)
            return Page(query=query, rows=rows, has_more=has_more, sources=("hot",))

        async def manifest(conn: AsyncConnection, watermark: Watermark) -> list[ColdFile] | None:
            if self.cold is None or _cold_excluded(query, watermark):
                return None
            return await self.cold.files(query, watermark, positioned=True, conn=conn)

        page = await self._answer(
            query.tenant_id, query.table, hot_only, lambda w, f: self._fetch_tiers(query, w, f), manifest
        )
        self._record(page.sources)
        return page

    async def _fetch_tiers(
        self, query: Query, watermark: Watermark, files: list[ColdFile] | None
    ) -> tuple[Page, bool]:
        """The page split at `watermark`, and whether the cold tier was read (`files`: its manifest, if read)."""
        assert self.cold is not None
        cold = self.cold
        parts: list[tuple[str, Callable[[Query], Awaitable[tuple[list[Row], bool]]]]] = []
        if not _cold_excluded(query, watermark):
            parts.append(("cold", lambda q: cold.fetch(q, watermark, files)))
        if not _hot_excluded(query, watermark):
            parts.append(("hot", lambda q: self._hot_page(_after_watermark(q, watermark))))
        if query.descending:
            parts.reverse()
        rows: list[Row] = []
        sources: list[str] = []
        has_more = read_cold = False
        for tier, read in parts:
            read_cold = read_cold or tier == "cold"
            room = query.limit - len(rows)
            got, more = await read(query.replace(limit=max(room, 1)))
            if room == 0:  # the page is full: this read only tells whether more rows follow
                has_more = bool(got)
                break
            rows.extend(got)
            if got:
                sources.append(tier)
            if more:
                has_more = True
                break
        if not rows:
            sources = [tier for tier, _ in parts[:1]] or ["hot"]
        chosen = tuple(t for t in ("cold", "hot") if t in sources)
        return Page(query=query, rows=rows, has_more=has_more, sources=chosen), read_cold

    async def _hot_page(self, query: Query) -> tuple[list[Row], bool]:
        async with self._reads.connect() as conn:
            return await fetch_page(conn, query)

    async def count(self, query: Query, cap: int) -> tuple[int, bool]:
        """Rows matching the query's filters and ranges, up to `cap`, and whether that is exact."""

        unpositioned = query.replace(after=None)

        async def manifest(conn: AsyncConnection, watermark: Watermark) -> list[ColdFile] | None:
            if self.cold is None or _cold_excluded(unpositioned, watermark):
                return None
            return await self.cold.files(query, watermark, positioned=False, conn=conn)

        async def read(watermark: Watermark, files: list[ColdFile] | None) -> tuple[tuple[int, bool], bool]:
            assert self.cold is not None
            total, exact, read_cold = 0, True, False
            if not _cold_excluded(unpositioned, watermark):
                n, exact = await self.cold.count(query, watermark, cap, files)
                total, read_cold = n, True
            if exact and total <= cap and not _hot_excluded(unpositioned, watermark):
                async with self._reads.connect() as conn:
                    n, exact = await count_rows(conn, _after_watermark(query, watermark), cap)
                total += n
            return (min(total, cap), exact and total <= cap), read_cold

        return await self._answer(
            query.tenant_id, query.table, lambda conn: count_rows(conn, query, cap), read, manifest
        )

    async def lookup(
        self,
        tenant_id: str,
        table: Table,
        column: str,
        values: Sequence[Any],
        filters: Sequence[Filter] = (),
        *,
        per_key: int,
    ) -> dict[Any, list[dict[str, Any]]]:
        """For dataloaders: the tenant's first `per_key` rows of `table` for each value of `column` in `values`,
        grouped by value, in one statement. Current-state tables only (history goes through `fetch`, which
        pages; current tables stay hot)."""
        async with self._reads.connect() as conn:
            return await lookup_rows(conn, tenant_id, table, column, values, filters, per_key=per_key)

    async def net_flows(
        self, movements: Table, tenant_id: str, holders: Sequence[str], filters: Sequence[Filter] = ()
    ) -> dict[str, dict[str, Flow]]:
        """Per holder and asset, what the tenant's stored movements in `movements` matching `filters` brought in
        minus what they took out (`storage.flows`; the table has the columns that module names), over both
        tiers: the archived part is summed from the cold files, not dropped."""

        async def hot_only(conn: AsyncConnection) -> tuple[dict[str, dict[str, Flow]], tuple[str, ...]]:
            return await net_flows(conn, movements, tenant_id, holders, filters), ("hot",)

        async def read(
            watermark: Watermark, _files: list[ColdFile] | None
        ) -> tuple[tuple[dict[str, dict[str, Flow]], tuple[str, ...]], bool]:
            assert self.cold is not None
            sums = await self.cold.sum_legs(movements, tenant_id, filters, holders, watermark)
            hot_filters = (*filters, Filter(("id",), "gt", watermark.last_id))
            async with self._reads.connect() as conn:
                hot = await sum_legs(conn, movements, tenant_id, hot_filters, holders=holders)
            # The tiers whose movements were summed (none had any: both were read).
            sources = tuple(tier for tier, part in (("cold", sums), ("hot", hot)) if part) or ("cold", "hot")
            for key, flow in hot.items():
                add_flow(sums, key, flow)
            out: dict[str, dict[str, Flow]] = {holder: {} for holder in holders}
            for (holder, asset), flow in sums.items():
                out[holder][asset] = flow
            return (out, sources), bool(holders)

        flows, sources = await self._answer(tenant_id, movements, hot_only, read)
        self._record(sources)
        return flows

    def scan(
        self,
        table: Table,
        tenant_id: str,
        *,
        from_ledger: int | None = None,
        to_ledger: int | None = None,
        page_size: int = 5000,
    ) -> AsyncIterator[list[Row]]:
        """Every row of the tenant's history table in order key order, in pages, across both tiers (exports)."""
        return iter_tenant_rows(
            self.engine,
            table,
            tenant_id,
            from_ledger=from_ledger,
            to_ledger=to_ledger,
            page_size=page_size,
            cold=self.cold,
        )

    async def latest_ledger(self, network: str) -> int | None:
        """The last ledger ingested for `network` (the `Latest-Ledger` header of both APIs), read at most once per
        `latest_ledger_ttl` seconds (ledgers close every ~5 s; a lookup per request would be a second database
        round trip on every page), so it may lag the newest ledger by that much."""
        return (await self.data_version(network)).latest_ledger

    async def data_version(self, network: str) -> DataVersion:
        """The latest ledger and the count of committed ledgers of `network`, read together at most once per
        `latest_ledger_ttl` seconds. One cached pair, not two values with their own expiry: the response cache keys
        on both, and parts refreshed at different moments would change its key twice per commit (two misses).
        One statement reads both, so a commit never falls between them."""
        now = time.monotonic()
        hit = self._versions.get(network)
        if hit is not None and hit[0] > now:
            return hit[1]
        version = await _read_data_version(self._reads, network)
        self._versions[network] = (now + self._latest_ttl, version)
        return version
