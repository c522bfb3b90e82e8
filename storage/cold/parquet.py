"""A history table's rows as Parquet, and back, exactly.

One mapping from the table's columns (all but `tenant_id`, in table order) to Arrow types: text -> string,
BigInteger -> int64, Integer -> int32, Boolean -> bool, UTCDateTime -> timestamp[us, UTC], JSON -> string
(JSON text, decoded on read), and `storage.amounts.Amount` -> string in the sortable encoding of
`storage.amounts` (`encode_sortable`): amounts reach 39 digits, past any Arrow integer and past a float's
precision, and the sortable text keeps them exact while its min/max statistics and comparisons order like the
numbers, so DuckDB filters and row-group pruning work on it as on the hot store's SQLite text.

Files are written in id order (the order key), zstd, in row groups of `ROW_GROUP_ROWS`; `ParquetFileWriter`
buffers at most one row group, so an archival run's memory does not grow with the table. Its `FileStats` carry
what the manifest (`cold_files`) records, including a checksum over the ids in order, which verification
recomputes from the stored object and from the hot rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, Table

from storage.amounts import Amount, encode_sortable
from storage.cold import columns
from storage.query import Row
from storage.tables import UTCDateTime

ROW_GROUP_ROWS = 100_000
COMPRESSION = "zstd"


def file_columns(table: Table) -> list[Column[Any]]:
    """The columns a cold file of `table` holds, in table order (the tenant is in the key, not the rows)."""
    return [c for c in table.columns if c.name != "tenant_id"]


def arrow_type(column: Column[Any]) -> pa.DataType:
    kind = column.type
    if isinstance(kind, Amount | JSON):
        return pa.string()
    if isinstance(kind, UTCDateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, BigInteger):
        return pa.int64()
    if isinstance(kind, Integer):
        return pa.int32()
    if isinstance(kind, Boolean):
        return pa.bool_()
    return pa.string()


def parquet_schema(table: Table) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, arrow_type(c), nullable=bool(c.nullable)) for c in file_columns(table)]
    )


def amount_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in file_columns(table) if isinstance(c.type, Amount))


def json_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in file_columns(table) if isinstance(c.type, JSON))


def json_text(value: Any) -> str:
    """JSON text of a value as the hot store returns it; big integers stay integers (no orjson here)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_arrow(table: Table, rows: Sequence[Row]) -> pa.Table:
    """Rows as storage reads them (tenant id excluded) -> an Arrow table of the file schema."""
    schema = parquet_schema(table)
    amounts, jsons = set(amount_columns(table)), set(json_columns(table))
    arrays = []
    for field in schema:
        values = [row[field.name] for row in rows]
        if field.name in amounts:
            values = [None if v is None else encode_sortable(int(v)) for v in values]
        elif field.name in jsons:
            values = [None if v is None else json_text(v) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def to_rows(table: Table, data: pa.Table) -> list[Row]:
    """An Arrow table of (some of) a file's columns -> rows typed as the hot store gives them: exact int
    amounts, decoded JSON, aware UTC datetimes (`datetime.UTC`). Column by column, in bulk where Arrow can
    (`storage.cold.columns`), then zipped into one dict per row."""
    names = data.column_names
    amounts, jsons = set(amount_columns(table)), set(json_columns(table))
    values: list[list[Any]] = []
    for name in names:
        column = data.column(name)
        if name in amounts:
            values.append(columns.amounts(column))
        elif name in jsons:
            values.append(columns.json_values(column))
        elif pa.types.is_timestamp(column.type):
            values.append(columns.timestamps(column))
        else:
            values.append(column.to_pylist())
    return list(map(dict, map(zip, repeat(names), zip(*values, strict=True))))


class Checksum:
    """sha256 over ids in order, one per line: what a file's verification compares."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def update(self, ids: Iterable[str]) -> None:
        for row_id in ids:
            self._hash.update(row_id.encode())
            self._hash.update(b"\n")
            self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class FileStats:
    """What the manifest records of a written file (before it is stored: no size yet)."""

    rows: int
    first_id: str
    last_id: str
    first_ledger: int
    last_ledger: int
    min_closed_at: datetime
    max_closed_at: datetime
    checksum: str
    raw_bytes: int


class ParquetFileWriter:
    """Writes one cold file of `table` at `path`: rows added in id order, buffered up to a row group."""

    def __init__(self, table: Table, path: Path) -> None:
        self.table = table
        self.path = path
        self._writer = pq.ParquetWriter(
            path, parquet_schema(table), compression=COMPRESSION, write_statistics=True
        )
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._checksum = Checksum()
        self._first: Row | None = None
        self._last: Row | None = None
        self._min_closed: datetime | None = None
        self._max_closed: datetime | None = None

    @property
    def rows(self) -> int:
        return self._checksum.count

    def add(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self._first is None:
            self._first = rows[0]
        self._last = rows[-1]
        self._checksum.update(row["id"] for row in rows)
        closed = [row["closed_at"] for row in rows]
        low, high = min(closed), max(closed)
        self._min_closed = low if self._min_closed is None else min(self._min_closed, low)
        self._max_closed = high if self._max_closed is None else max(self._max_closed, high)
        self._pending.append(to_arrow(self.table, rows))
        self._pending_rows += len(rows)
        while self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, size: int) -> None:
        merged = pa.concat_tables(self._pending)
        self._writer.write_table(merged.slice(0, size), row_group_size=size)
        rest = merged.slice(size)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> FileStats:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()
        if self._first is None or self._last is None or self._min_closed is None or self._max_closed is None:
            raise ValueError("a cold file needs at least one row")
        metadata = pq.ParquetFile(self.path).metadata
        raw = sum(
            metadata.row_group(g).column(c).total_uncompressed_size
            for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)
        )
        return FileStats(
            rows=self.rows,
            first_id=str(self._first["id"]),
            last_id=str(self._last["id"]),
            first_ledger=int(self._first["ledger_sequence"]),
            last_ledger=int(self._last["ledger_sequence"]),
            min_closed_at=self._min_closed,
            max_closed_at=self._max_closed,
            checksum=self._checksum.hexdigest(),
            raw_bytes=raw,
        )

    def abort(self) -> None:
        self._writer.close()


def read_back(path: Path) -> tuple[int, str]:
    """Row count and id checksum of a stored file, from its own bytes (only the id column is decoded)."""
    checksum = Checksum()
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS, columns=["id"]):
        checksum.update(batch.column(0).to_pylist())
    if checksum.count != source.metadata.num_rows:
        raise ValueError(f"{path}: {checksum.count} ids read, the footer says {source.metadata.num_rows}")
    return checksum.count, checksum.hexdigest()
