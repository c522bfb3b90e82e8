"""Cold reads: a `Query` over a tenant's Parquet files, with DuckDB, answering exactly as the hot store would.

Pruning happens before anything is opened: the manifest (`cold_files`, one indexed read in the hot store)
gives the files whose id range lies under the watermark and whose time range, ledger range and id range meet
the query's ranges and position, in read order. A page then reads those files one at a time, in order, until
it has `limit + 1` rows: a 100-row page opens one file (DuckDB skips that file's row groups by the id
statistics). Filters are pushed into DuckDB's WHERE and only the needed columns are read; values are converted
from Arrow in bulk (`storage.cold.parquet.to_rows`).

Exactness: amounts are stored as sortable text (`storage.amounts.encode_sortable`), so an amount filter binds
the encoded value and compares text, exactly as on SQLite; sums (`sum_legs`) decode and add Python ints.

Files of a bucket are fetched whole (obstore) into a bounded local cache (`storage.cold.cache`), each copy
named by its key and its manifest row (checksum, size, creation time), so a key that later holds other content
(a purge and the id's reuse, a re-archive) is fetched anew, never served stale; DuckDB reads local files (no
httpfs extension to download). A local folder store is read in place. DuckDB runs in worker threads; a
semaphore bounds the cold queries running at once, so a burst of cold reads cannot take every core from the
hot path.

A file that cannot be fetched or read (missing, corrupt, the bucket down) fails that one query with 503
`cold_store_unavailable`, naming the tenant and the file and a generic reason; the detail (the bucket and
endpoint URLs, local paths, the library's message) is logged, not sent to the client. Hot reads and other
tenants go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import RETRY_AFTER_SECONDS, ServiceUnavailable
from core.settings import Settings
from storage.amounts import Amount, encode_sortable
from storage.cold import memory
from storage.cold.cache import ColdObjectVersion, FileCache
from storage.cold.parquet import file_columns, json_text, to_rows
from storage.cold.store import ColdStore, ColdStoreUnreachable
from storage.cold.tables import cold_files
from storage.cold.watermarks import Watermark
from storage.flows import Flow, add_flow
from storage.query import MAX_LIMIT, Filter, Query, Row
from storage.tables import UTCDateTime

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 2 * 1024**3
DEFAULT_MEMORY_BYTES = 256 * 1024**2


class ColdStoreUnavailable(ServiceUnavailable):
    """A cold file of a tenant cannot be fetched or read: that query fails with 503 (`Retry-After`)."""

    code = "cold_store_unavailable"

    def __init__(self, tenant_id: str, key: str, reason: str) -> None:
        """`reason` is shown to the client: generic, never a URL, path or library message."""
        super().__init__(
            f"cold data of tenant {tenant_id} is unavailable: file {key} cannot be read ({reason}); retry "
            "shortly",
            details={"tenant_id": tenant_id, "file": key},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.tenant_id = tenant_id
        self.key = key


@dataclass(frozen=True)
class ColdFile:
    """A file of the manifest, as a read needs it."""

    key: str
    first_id: str
    last_id: str
    version: ColdObjectVersion  # which object the manifest means: the local cache's name of it
    raw_bytes: int  # uncompressed: whether it is read into memory (`storage.cold.memory`)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _bind(table: Table, name: str, value: Any) -> Any:
    """A filter value as the file stores its column: amounts as sortable text, JSON as its text, UTC times."""
    if value is None:
        return None
    kind = table.c[name].type
    if isinstance(kind, Amount):
        return encode_sortable(int(value))
    if isinstance(kind, JSON):
        return json_text(value)
    if isinstance(kind, UTCDateTime) and isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


_COMPARISONS = {"gte": ">=", "lte": "<=", "lt": "<", "gt": ">"}


def filter_sql(table: Table, flt: Filter, params: list[Any]) -> str:
    """DuckDB's condition of one generic filter (the same meaning as `storage.hot_query.condition`)."""
    if flt.op == "either":
        return "(" + " OR ".join(filter_sql(table, inner, params) for inner in flt.value) + ")"

    def one(name: str) -> str:
        column = _quote(name)
        if flt.op == "eq":
            if flt.value is None:
                return f"{column} IS NULL"
            params.append(_bind(table, name, flt.value))
            return f"{column} = ?"
        if flt.op == "in":
            if not flt.value:
                return "FALSE"
            params.extend(_bind(table, name, v) for v in flt.value)
            return f"{column} IN ({', '.join('?' for _ in flt.value)})"
        if flt.op in _COMPARISONS:
            params.append(_bind(table, name, flt.value))
            return f"{column} {_COMPARISONS[flt.op]} ?"
        if flt.op == "is_null":
            return f"{column} IS NULL"
        if flt.op == "not_null":
            return f"{column} IS NOT NULL"
        raise ValueError(f"unknown filter operator {flt.op!r}")

    return "(" + " OR ".join(one(name) for name in flt.columns) + ")"


def where_sql(query: Query, watermark: Watermark, *, positioned: bool) -> tuple[str, list[Any]]:
    """The WHERE of a query's cold read (up to the watermark; after the position when `positioned`)."""
    table = query.table
    params: list[Any] = [watermark.last_id]
    parts = ["id <= ?"]
    parts.extend(filter_sql(table, f, params) for f in query.filters)
    for bound, op in ((query.from_time, ">="), (query.to_time, "<=")):
        if bound is not None:
            parts.append(f"{_quote(query.time_column)} {op} ?")
            params.append(_bind(table, query.time_column, bound))
    for ledger, op in ((query.from_ledger, ">="), (query.to_ledger, "<=")):
        if ledger is not None:
            parts.append(f"ledger_sequence {op} ?")
            params.append(ledger)
    if positioned and query.after is not None:
        parts.append("id < ?" if query.descending else "id > ?")
        params.append(query.after)
    return " AND ".join(parts), params


_GROUPS_CACHED = 10_000  # files whose row-group id ranges are remembered


@dataclass(frozen=True)
class _Group:
    min_id: str
    max_id: str
    rows: int


def _read_groups(local: Path) -> list[_Group] | None:
    metadata = pq.ParquetFile(local).metadata
    column = metadata.schema.to_arrow_schema().get_field_index("id")
    groups = []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        stats = group.column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        groups.append(_Group(str(stats.min), str(stats.max), group.num_rows))
    return groups


def _windows(
    groups: list[_Group] | None, query: Query, still_wanted: Callable[[], int]
) -> Iterator[tuple[str | None, str | None]]:
    """Id ranges of successive runs of a file's row groups in read order, each holding at least the rows still
    wanted (before filters), from the query's position on: a page reads one or two row groups of a sorted file
    instead of the whole file's ids (DuckDB prunes row groups by statistics, but would not know the file is
    sorted and so scan every remaining group for a top-N). Without statistics: the whole file, once."""
    if groups is None:
        yield None, None
        return
    after = query.after
    if query.descending:
        candidates = [g for g in reversed(groups) if after is None or g.min_id < after]
    else:
        candidates = [g for g in groups if after is None or g.max_id > after]
    start = 0
    while start < len(candidates):
        need = still_wanted()
        if need <= 0:
            return
        end, rows = start, 0
        while end < len(candidates) and rows < need:
            rows += candidates[end].rows
            end += 1
        window = candidates[start:end]
        ids = [g.min_id for g in window] + [g.max_id for g in window]
        yield min(ids), max(ids)
        start = end


def _open_stream(
    cursor: duckdb.DuckDBPyConnection, statement: str, params: list[Any], batch_rows: int
) -> pa.RecordBatchReader:
    return cursor.sql(statement, params=params).to_arrow_reader(batch_rows)


def _next_rows(reader: pa.RecordBatchReader, table: Table) -> list[Row] | None:
    """The stream's next batch as rows (converted in the worker thread, off the event loop); None at its end."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return None
        if batch.num_rows:
            return to_rows(table, pa.Table.from_batches([batch]))


def _configure(db: duckdb.DuckDBPyConnection) -> None:
    """DuckDB settings for cold reads (global: the cursors of `db` share them), each measured by bench/cold.py:

    - late materialization up to a page's rows: DuckDB's top-N (`ORDER BY id LIMIT n`) then reads only the ids
      of the row groups it scans and fetches the other columns for the winning rows alone; its default stops at
      50 rows, below a 100-row page.
    - the Parquet footer cache: a page otherwise parses the file's footer again on every query. Cold files never
      change under a key; DuckDB still checks the file's modification time, so a key written again is re-read.
    """
    db.execute(f"SET GLOBAL late_materialization_max_rows = {MAX_LIMIT + 1}")
    db.execute("SET GLOBAL parquet_metadata_cache = true")


async def _seen(file: ColdFile, local: Path) -> tuple[str, str, int, int]:
    """What names a file's remembered footer or decoded table: the manifest's checksum, and the size and time
    on disk too: a key purged or expired and written again is another file (entries of deleted files are never
    asked for again and age out)."""
    stat = await asyncio.to_thread(local.stat)
    return (file.key, file.version.checksum, stat.st_size, stat.st_mtime_ns)


async def _memory_page(data: pa.Table, query: Query, watermark: Watermark, wanted: int) -> list[Row] | None:
    """Up to `wanted` rows of a file held in memory, in the query's order; None when a filter cannot be
    translated to Arrow (DuckDB reads the file instead)."""
    try:
        where = memory.conditions(query, data)
    except memory.Unsupported:
        return None
    if where is None:  # slices only: no copy, nothing worth a thread
        picked = memory.page(data, query, watermark, None, wanted)
    else:
        picked = await asyncio.to_thread(memory.page, data, query, watermark, where, wanted)
    return to_rows(query.table, picked.select([c.name for c in file_columns(query.table)]))


async def _memory_count(data: pa.Table, query: Query, watermark: Watermark) -> int | None:
    """The rows of a file held in memory that the query counts; None when a filter cannot be translated."""
    try:
        where = memory.conditions(query, data)
    except memory.Unsupported:
        return None
    if where is None:
        return memory.count(data, query, watermark, None)
    return await asyncio.to_thread(memory.count, data, query, watermark, where)


class ColdReader:
    """Reads a tenant's cold files (see the module docstring)."""

    def __init__(
        self,
        store: ColdStore,
        engine: AsyncEngine,
        *,
        max_concurrent: int = 2,
        cache_dir: Path | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self.store = store
        self.engine = engine
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self._db = duckdb.connect(":memory:")
        _configure(self._db)
        self._groups: dict[tuple[str, str, int, int], list[_Group] | None] = {}
        self.memory_bytes = memory_bytes
        self._memory = memory.MemoryTables(memory_bytes)
        self._cache = (
            FileCache(store, cache_dir or Path(".obsrvr-flow/cold-cache"), cache_bytes)
            if store.root is None
            else None
        )

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine) -> ColdReader:
        return cls(
            ColdStore.from_settings(settings),
            engine,
            max_concurrent=settings.cold_max_concurrent_reads,
            cache_dir=settings.cold_cache_dir,
            cache_bytes=settings.cold_cache_bytes,
            memory_bytes=settings.cold_memory_bytes,
        )

    @property
    def files_in_memory(self) -> int:
        """How many cold files this reader holds decoded (`storage.cold.memory`)."""
        return self._memory.held

    # Pruning by the manifest -----------------------------------------------------------------------------

    async def files(
        self, query: Query, watermark: Watermark, *, positioned: bool, conn: AsyncConnection | None = None
    ) -> list[ColdFile]:
        """The manifest's files that can hold rows of the query up to `watermark` (after its position when
        `positioned`), in read order; on `conn` when given (the router's, which has just read the watermark:
        one checkout instead of two)."""
        f = cold_files.c
        statement = select(
            f.key, f.first_id, f.last_id, f.checksum, f.bytes, f.created_at, f.raw_bytes
        ).where(
            f.tenant_id == query.tenant_id,
            f.table_name == query.table.name,
            f.first_id <= watermark.last_id,
        )
        if query.time_column == "closed_at":
            if query.from_time is not None:
                statement = statement.where(f.max_closed_at >= query.from_time)
            if query.to_time is not None:
                statement = statement.where(f.min_closed_at <= query.to_time)
        if query.from_ledger is not None:
            statement = statement.where(f.last_ledger >= query.from_ledger)
        if query.to_ledger is not None:
            statement = statement.where(f.first_ledger <= query.to_ledger)
        if positioned and query.after is not None:
            statement = statement.where(
                f.first_id < query.after if query.descending else f.last_id > query.after
            )
        statement = statement.order_by(f.first_id.desc() if query.descending else f.first_id)
        if conn is None:
            async with self.engine.connect() as own:
                return await self.files(query, watermark, positioned=positioned, conn=own)
        return [
            ColdFile(
                r.key,
                r.first_id,
                r.last_id,
                ColdObjectVersion(r.key, r.checksum, r.bytes, r.created_at),
                int(r.raw_bytes),
            )
            for r in await conn.execute(statement)
        ]

    # Running DuckDB on one file ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _opened(self, tenant_id: str, file: ColdFile) -> AsyncIterator[Path]:
        """The file's local path, held (cached) while the block runs; any failure inside (fetching, DuckDB) is
        the query's 503 naming the tenant and the file, its detail logged only."""
        local = self.store.local_path(file.key)
        pinned: Path | None = None
        try:
            if self._cache is not None:
                local = pinned = await self._cache.pin(file.version)
            assert local is not None
            yield local
        except ColdStoreUnavailable:
            raise
        except Exception as exc:  # DuckDB's errors, the store's, a missing file
            reason = (
                "the cold store cannot be reached"
                if isinstance(exc, ColdStoreUnreachable)
                else "the file is missing or unreadable"
            )
            log.error(
                "cold file %s of tenant %s cannot be read (store %s, local copy %s): %s",
                file.key,
                tenant_id,
                self.store.url,
                local or "not fetched",
                exc,
                extra={"tenant_id": tenant_id, "cold_file": file.key},
            )
            raise ColdStoreUnavailable(tenant_id, file.key, reason) from exc
        finally:
            if pinned is not None and self._cache is not None:
                self._cache.unpin(pinned)

    async def _query(self, local: Path, sql: str, params: list[Any]) -> pa.Table:
        """`sql` with `{file}` standing for the file at `local`, as an Arrow table (in a worker thread)."""
        statement = sql.replace("{file}", f"read_parquet({_literal_path(local)})")
        cursor = self._db.cursor()
        try:
            result: pa.Table = await asyncio.to_thread(
                lambda: cursor.sql(statement, params=params).to_arrow_table()
            )
            return result
        finally:
            cursor.close()

    async def _run(self, tenant_id: str, file: ColdFile, sql: str, params: list[Any]) -> pa.Table:
        async with self._opened(tenant_id, file) as local:
            return await self._query(local, sql, params)

    async def _row_groups(self, file: ColdFile, local: Path) -> list[_Group] | None:
        """The id range and row count of each row group of a file (its footer, remembered); None when the
        footer has no id statistics."""
        seen = await _seen(file, local)
        if seen not in self._groups:
            self._groups[seen] = await asyncio.to_thread(_read_groups, local)
            while len(self._groups) > _GROUPS_CACHED:
                self._groups.pop(next(iter(self._groups)))
        return self._groups[seen]

    async def _in_memory(self, file: ColdFile, local: Path) -> pa.Table | None:
        """The whole file decoded, when it is small enough to be held (`storage.cold.memory`); else None."""
        if not self._memory.holds(file.raw_bytes):
            return None
        return await self._memory.table(await _seen(file, local), local)

    # The reads --------------------------------------------------------------------------------------------

    async def fetch(
        self, query: Query, watermark: Watermark, files: list[ColdFile] | None = None
    ) -> tuple[list[Row], bool]:
        """Like `storage.hot_query.fetch_page` (rows after the position, `limit` of them, and whether more
        follow) over the tenant's cold rows up to `watermark`; `files` when already read (`files(...,
        positioned=True)` for this query and watermark)."""
        if files is None:
            files = await self.files(query, watermark, positioned=True)
        where, params = where_sql(query, watermark, positioned=True)
        columns = ", ".join(_quote(c.name) for c in file_columns(query.table))
        order = "id DESC" if query.descending else "id"
        wanted = query.limit + 1
        rows: list[Row] = []
        async with self._semaphore:
            for file in files:
                async with self._opened(query.tenant_id, file) as local:
                    data = await self._in_memory(file, local)
                    held = (
                        await _memory_page(data, query, watermark, wanted - len(rows))
                        if data is not None
                        else None
                    )
                    if held is not None:
                        rows.extend(held)
                        if len(rows) >= wanted:
                            break
                        continue
                    groups = await self._row_groups(file, local)
                    for low, high in _windows(groups, query, lambda: wanted - len(rows)):
                        bounds, bound_params = "", []
                        if low is not None and high is not None:
                            bounds, bound_params = " AND id >= ? AND id <= ?", [low, high]
                        sql = (
                            f"SELECT {columns} FROM {{file}} WHERE {where}{bounds} "
                            f"ORDER BY {order} LIMIT {wanted - len(rows)}"
                        )
                        data = await self._query(local, sql, [*params, *bound_params])
                        rows.extend(to_rows(query.table, data))
                if len(rows) >= wanted:
                    break
        return rows[: query.limit], len(rows) > query.limit

    async def scan(
        self, query: Query, watermark: Watermark, batch_rows: int = 5_000
    ) -> AsyncIterator[list[Row]]:
        """Every cold row of the query (ascending, after its position; its limit ignored) in batches of up to
        `batch_rows`, streamed from DuckDB file by file (for exports: memory stays at a batch)."""
        files = await self.files(query.replace(descending=False), watermark, positioned=True)
        where, params = where_sql(query.replace(descending=False), watermark, positioned=True)
        columns = ", ".join(_quote(c.name) for c in file_columns(query.table))
        for file in files:
            async with self._opened(query.tenant_id, file) as local:
                cursor = self._db.cursor()
                pending: asyncio.Future[list[Row] | None] | None = None
                try:
                    source = f"read_parquet({_literal_path(local)})"
                    # No ORDER BY: the file is sorted by id (verified when archived) and DuckDB keeps a scan's
                    # insertion order; sorting a million rows again would double the read.
                    statement = f"SELECT {columns} FROM {source} WHERE {where}"
                    async with self._semaphore:
                        reader = await asyncio.to_thread(_open_stream, cursor, statement, params, batch_rows)
                    # One batch ahead: the worker thread reads and converts the next batch while the caller
                    # handles this one (DuckDB releases the GIL while it decodes).
                    pending = asyncio.ensure_future(self._read_ahead(reader, query.table))
                    while (rows := await asyncio.shield(pending)) is not None:
                        pending = asyncio.ensure_future(self._read_ahead(reader, query.table))
                        yield rows
                finally:
                    if pending is not None:  # (shielded above) the thread must be done with the stream first
                        await asyncio.gather(pending, return_exceptions=True)
                    cursor.close()

    async def _read_ahead(self, reader: pa.RecordBatchReader, table: Table) -> list[Row] | None:
        async with self._semaphore:
            return await asyncio.to_thread(_next_rows, reader, table)

    async def count(
        self, query: Query, watermark: Watermark, cap: int, files: list[ColdFile] | None = None
    ) -> tuple[int, bool]:
        """Cold rows matching the query's filters and ranges (not its position), up to `cap`; exact or not;
        `files` when already read (`files(..., positioned=False)`)."""
        if files is None:
            files = await self.files(query, watermark, positioned=False)
        where, params = where_sql(query, watermark, positioned=False)
        total = 0
        async with self._semaphore:
            for file in files:
                async with self._opened(query.tenant_id, file) as local:
                    data = await self._in_memory(file, local)
                    held = await _memory_count(data, query, watermark) if data is not None else None
                    if held is None:
                        sql = (
                            f"SELECT count(*) AS n FROM (SELECT 1 FROM {{file}} WHERE {where} "
                            f"LIMIT {cap + 1 - total})"
                        )
                        held = int((await self._query(local, sql, params)).column(0)[0].as_py())
                total += held
                if total > cap:
                    break
        return min(total, cap), total <= cap

    async def sum_legs(
        self,
        movements: Table,
        tenant_id: str,
        filters: Sequence[Filter],
        holders: Sequence[str],
        watermark: Watermark,
    ) -> dict[tuple[str, str], Flow]:
        """The cold part of `storage.flows.sum_legs` (by holders): each matching row adds its amount to the
        receiver and subtracts it from the sender, for the sides whose holder is in `holders`."""
        out: dict[tuple[str, str], Flow] = {}
        wanted = sorted(set(holders))
        if not wanted:
            return out
        query = Query(tenant_id=tenant_id, table=movements, filters=tuple(filters))
        files = await self.files(query, watermark, positioned=False)
        where, params = where_sql(query, watermark, positioned=False)
        names = ("to", "from", "asset", "amount_raw", "decimals", "ledger_sequence", "closed_at")
        columns = ", ".join(_quote(n) for n in names)
        sql = (
            f"SELECT {columns} FROM {{file}} WHERE {where} "
            'AND (list_contains(?, "to") OR list_contains(?, "from"))'
        )
        chosen = set(wanted)
        async with self._semaphore:
            for file in files:
                data = await self._run(tenant_id, file, sql, [*params, wanted, wanted])
                for row in to_rows(movements, data):
                    for side, sign in (("to", 1), ("from", -1)):
                        holder = row[side]
                        if holder in chosen:
                            add_flow(
                                out,
                                (holder, row["asset"]),
                                Flow(
                                    sign * row["amount_raw"],
                                    row["decimals"],
                                    row["ledger_sequence"],
                                    row["closed_at"],
                                ),
                            )
        return out

    async def close(self) -> None:
        self._db.close()
