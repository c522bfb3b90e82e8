"""Small cold files held decoded in memory, and pages and counts answered from them without DuckDB.

Why: a DuckDB query costs ~10-15 ms of CPU however few rows it returns (planning, opening the Parquet file,
decompressing the whole row group its top-N scans, handing Arrow back), so a 10-row page of a 10,000-row file
cost ~50 ms under load, and a REST page makes two (the page and its count). A file read once into an Arrow table
is paged by a binary search over its ids (files are sorted by id, verified when archived) and a slice; other
conditions (filters, time and ledger ranges) are Arrow compute expressions over the slice, with SQL's
meaning (a comparison with NULL is not true; OR and AND are Kleene). Measured by bench/cold_reads.py.

What is held: whole files whose uncompressed size (the manifest's `raw_bytes`) is at most a quarter of the
budget (`OBSRVR_COLD_MEMORY_BYTES`), least recently used evicted; bigger files (a busy tenant-month) stay with
DuckDB and its row-group windows, where a page reads one row group instead of loading the month. A budget of 0
turns this off.

Consistency: an entry is named like the row-group ranges (`ColdReader._row_groups`): the key, the manifest's
checksum, and the local file's size and modification time. The manifest is still read for every query, so a
file expired or purged (its manifest row goes first) is never asked for again, a file archived later is read
as soon as its manifest row commits, and a key written again (a purged tenant's id reused, a re-archive) is
another entry; entries nobody asks for age out. Keys start with `customer_id=<tenant>/` and the manifest read
is by tenant, so a tenant's query only ever reaches entries of its own files.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import JSON, Table

from storage.amounts import Amount, encode_sortable
from storage.cold.parquet import json_text
from storage.cold.watermarks import Watermark
from storage.query import Filter, FilterOp, Query
from storage.tables import UTCDateTime

_FIRST_STEP = 256  # rows examined first by a filtered page; each further step examines four times more


class Unsupported(Exception):
    """A condition this module does not translate: the query goes to DuckDB instead."""


class MemoryTables:
    """Decoded cold files, least recently used evicted past `max_bytes` (bookkeeping on the event loop)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._tables: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self._bytes = 0

    @property
    def held(self) -> int:
        """How many files are held."""
        return len(self._tables)

    def holds(self, raw_bytes: int) -> bool:
        """Whether a file of this uncompressed size is read into memory (else DuckDB reads it)."""
        return self.max_bytes > 0 and raw_bytes <= self.max_bytes // 4

    async def table(self, name: Hashable, local: Path) -> pa.Table:
        """The whole file at `local` (every column, one chunk each), read once per `name`."""
        data = self._tables.get(name)
        if data is not None:
            self._tables.move_to_end(name)
            return data
        read: pa.Table = await asyncio.to_thread(lambda: pq.read_table(local).combine_chunks())
        # `holds` judged by the manifest's uncompressed page size, but decoding expands dictionary-encoded columns
        # (tenant, asset, event type...): a file that decodes above a quarter of the budget is served, not kept.
        if read.nbytes > self.max_bytes // 4:
            return read
        if name not in self._tables:  # a concurrent first read may have added it meanwhile
            self._tables[name] = read
            self._bytes += read.nbytes
        while self._bytes > self.max_bytes and self._tables:
            _, old = self._tables.popitem(last=False)
            self._bytes -= old.nbytes
        return read


def _value(table: Table, data: pa.Table, name: str, value: Any) -> pa.Scalar:
    """A filter value as an Arrow scalar of the file's column type (amounts as sortable text, JSON as text)."""
    if name not in data.column_names:
        raise Unsupported(name)
    kind = table.c[name].type
    if isinstance(kind, Amount):
        value = encode_sortable(int(value))
    elif isinstance(kind, JSON):
        value = json_text(value)
    elif isinstance(kind, UTCDateTime) and isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    try:
        return pa.scalar(value, type=data.schema.field(name).type)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise Unsupported(name) from exc


_COMPARE = {"gte": "greater_equal", "lte": "less_equal", "lt": "less", "gt": "greater"}


def _condition(table: Table, data: pa.Table, flt: Filter) -> pc.Expression:
    """The Arrow expression of one generic filter (the meaning of `storage.cold.reader.filter_sql`)."""
    if flt.op == "either":
        parts = [_condition(table, data, inner) for inner in flt.value]
        return _any(parts) if parts else pc.scalar(False)

    def one(name: str) -> pc.Expression:
        field = pc.field(name)
        if name not in data.column_names:
            raise Unsupported(name)
        if flt.op == "eq":
            return field.is_null() if flt.value is None else field == _value(table, data, name, flt.value)
        if flt.op == "in":
            if not flt.value:
                return pc.scalar(False)
            kind = data.schema.field(name).type
            # SQL `IN` never matches NULL (Arrow's isin would, with a null in the set): nulls are left out.
            values = [_value(table, data, name, v).as_py() for v in flt.value if v is not None]
            return field.isin(pa.array(values, kind))
        if flt.op in _COMPARE:
            compare = getattr(pc, _COMPARE[flt.op])
            return compare(field, _value(table, data, name, flt.value))
        if flt.op == "is_null":
            return field.is_null()
        if flt.op == "not_null":
            return field.is_valid()
        raise Unsupported(flt.op)

    return _any([one(name) for name in flt.columns])


def _any(parts: Sequence[pc.Expression]) -> pc.Expression:
    out = parts[0]
    for part in parts[1:]:
        out = out | part
    return out


def conditions(query: Query, data: pa.Table) -> pc.Expression | None:
    """The query's filters and time and ledger ranges (not its id bounds: those are slices) as one
    expression over `data`; None when there are none. `Unsupported` when one cannot be translated."""
    table = query.table
    parts = [_condition(table, data, f) for f in query.filters]
    ops: tuple[FilterOp, FilterOp] = ("gte", "lte")
    for bound, op in zip((query.from_time, query.to_time), ops, strict=True):
        if bound is not None:
            parts.append(_condition(table, data, Filter((query.time_column,), op, bound)))
    for ledger, op in zip((query.from_ledger, query.to_ledger), ops, strict=True):
        if ledger is not None:
            parts.append(_condition(table, data, Filter(("ledger_sequence",), op, ledger)))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out & part
    return out


def _bisect(ids: pa.Array, value: str, *, right: bool) -> int:
    """Where `value` goes in the sorted `ids` (after equal ids when `right`)."""
    low, high = 0, len(ids)
    while low < high:
        middle = (low + high) // 2
        current = ids[middle].as_py()
        if current < value or (right and current == value):
            low = middle + 1
        else:
            high = middle
    return low


def _span(data: pa.Table, query: Query, watermark: Watermark, *, positioned: bool) -> tuple[int, int]:
    """The rows `[start, stop)` of the file with ids up to the watermark and (when `positioned`) past the
    query's position."""
    ids = data.column("id").chunk(0) if data.num_rows else pa.array([], pa.string())
    start, stop = 0, _bisect(ids, watermark.last_id, right=True)
    if positioned and query.after is not None:
        if query.descending:
            stop = min(stop, _bisect(ids, query.after, right=False))
        else:
            start = _bisect(ids, query.after, right=True)
    return start, max(start, stop)


def page(
    data: pa.Table, query: Query, watermark: Watermark, where: pc.Expression | None, wanted: int
) -> pa.Table:
    """Up to `wanted` rows of the file in the query's order after its position, meeting `where`."""
    start, stop = _span(data, query, watermark, positioned=True)
    if where is None:
        if query.descending:
            low = max(start, stop - wanted)
            return data.slice(low, stop - low).take(pa.array(range(stop - low - 1, -1, -1), pa.int64()))
        return data.slice(start, min(wanted, stop - start))
    found: list[pa.Table] = []
    got, step = 0, max(_FIRST_STEP, wanted)
    while got < wanted and start < stop:
        if query.descending:
            low = max(start, stop - step)
            chunk = data.slice(low, stop - low).filter(where)
            chunk = chunk.take(pa.array(range(chunk.num_rows - 1, -1, -1), pa.int64()))
            stop = low
        else:
            high = min(stop, start + step)
            chunk = data.slice(start, high - start).filter(where)
            start = high
        chunk = chunk.slice(0, wanted - got)
        found.append(chunk)
        got += chunk.num_rows
        step *= 4
    return pa.concat_tables(found) if found else data.slice(0, 0)


def count(data: pa.Table, query: Query, watermark: Watermark, where: pc.Expression | None) -> int:
    """The file's rows up to the watermark meeting `where` (the query's position ignored, as counts do)."""
    start, stop = _span(data, query, watermark, positioned=False)
    span = data.slice(start, stop - start)
    return span.num_rows if where is None else span.filter(where).num_rows
