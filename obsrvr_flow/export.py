"""Writing exported rows as JSON lines, CSV or Parquet (`obsrvr-flow export`).

Values are written as the REST API shows them, whatever the format: amounts (`Amount` columns) and 64-bit ids as
strings (never numbers, which lose precision past 2**53), times as ISO 8601 UTC, JSON columns as JSON (inside
CSV and Parquet, as JSON text). The Parquet schema comes from the table, not from the data, so a column that is
empty on the first page keeps its type.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Any

import orjson
from sqlalchemy import Table

from storage.columns import ColumnKind, table_fields

FORMATS = ("jsonl", "csv", "parquet")

# How each column kind (`storage.columns`, the one mapping all renderings share) is exported.
_EXPORT_KINDS = {
    ColumnKind.AMOUNT: "amount",  # amounts, and 64-bit ids such as offer ids: strings
    ColumnKind.BIG_INTEGER: "amount",
    ColumnKind.JSON: "json",
    ColumnKind.BOOLEAN: "bool",
    ColumnKind.INTEGER: "int",
}


def column_kinds(table: Table) -> dict[str, str]:
    """Export kind of each column (tenant_id is never exported); times and text are written as text."""
    # Plain str keys: SQLAlchemy names are a str subclass orjson refuses.
    return {str(f.name): _EXPORT_KINDS.get(f.kind, "text") for f in table_fields(table)}


def _value(value: Any, kind: str, *, json_as_text: bool) -> Any:
    if value is None:
        return None
    if kind == "amount":
        return str(value)
    if kind == "json":
        return orjson.dumps(value).decode() if json_as_text else value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


async def write_rows(
    pages: AsyncIterator[list[dict[str, Any]]], table: Table, fmt: str, out: IO[bytes]
) -> int:
    """Write every page of `table`'s rows to `out` in `fmt`; returns the number of rows."""
    kinds = column_kinds(table)
    if fmt == "jsonl":
        return await _jsonl(pages, kinds, out)
    if fmt == "csv":
        return await _csv(pages, kinds, out)
    if fmt == "parquet":
        return await _parquet(pages, kinds, out)
    raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


async def _jsonl(pages: AsyncIterator[list[dict[str, Any]]], kinds: dict[str, str], out: IO[bytes]) -> int:
    count = 0
    async for page in pages:
        for row in page:
            out.write(
                orjson.dumps({k: _value(row[k], kind, json_as_text=False) for k, kind in kinds.items()})
                + b"\n"
            )
        count += len(page)
    return count


async def _csv(pages: AsyncIterator[list[dict[str, Any]]], kinds: dict[str, str], out: IO[bytes]) -> int:
    count = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=list(kinds))
    writer.writeheader()
    async for page in pages:
        for row in page:
            writer.writerow({k: _value(row[k], kind, json_as_text=True) for k, kind in kinds.items()})
        count += len(page)
    text.detach()
    return count


async def _parquet(pages: AsyncIterator[list[dict[str, Any]]], kinds: dict[str, str], out: IO[bytes]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"int": pa.int64(), "bool": pa.bool_()}
    schema = pa.schema([(name, types.get(kind, pa.string())) for name, kind in kinds.items()])
    count = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        async for page in pages:
            columns = {
                name: [_value(row[name], kind, json_as_text=True) for row in page]
                for name, kind in kinds.items()
            }
            writer.write_table(pa.table(columns, schema=schema))
            count += len(page)
    return count
