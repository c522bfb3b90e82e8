"""Writing exported rows as JSON lines, CSV or Parquet (`obsrvr-flow export`).

Values are written as the REST API will show them: amounts as decimal strings of raw units (never floats),
times as ISO 8601 UTC, JSON columns as JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "csv", "parquet")


def plain(value: Any) -> Any:
    """A row value in its export form."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        # Amounts can exceed what JSON readers hold exactly in a double: integers beyond 2**53 go as strings.
        return value if -(2**53) < value < 2**53 else str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


async def write_rows(pages: AsyncIterator[list[dict[str, Any]]], fmt: str, out: IO[bytes]) -> int:
    """Write every page to `out` in `fmt`; returns the number of rows."""
    if fmt == "jsonl":
        return await _jsonl(pages, out)
    if fmt == "csv":
        return await _csv(pages, out)
    if fmt == "parquet":
        return await _parquet(pages, out)
    raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


async def _jsonl(pages: AsyncIterator[list[dict[str, Any]]], out: IO[bytes]) -> int:
    count = 0
    async for page in pages:
        for row in page:
            out.write(orjson.dumps({k: plain(v) for k, v in row.items()}) + b"\n")
        count += len(page)
    return count


async def _csv(pages: AsyncIterator[list[dict[str, Any]]], out: IO[bytes]) -> int:
    count = 0
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer: csv.DictWriter[str] | None = None
    async for page in pages:
        for row in page:
            if writer is None:
                writer = csv.DictWriter(text, fieldnames=list(row))
                writer.writeheader()
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        count += len(page)
    text.detach()
    return count


def _csv_cell(value: Any) -> Any:
    value = plain(value)
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


async def _parquet(pages: AsyncIterator[list[dict[str, Any]]], out: IO[bytes]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    count = 0
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    try:
        async for page in pages:
            columns = _columns(page)
            table = pa.table(columns) if schema is None else pa.table(columns, schema=schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(out, schema, compression="zstd")
            writer.write_table(table)
            count += len(page)
    finally:
        if writer is not None:
            writer.close()
    return count


def _columns(page: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    # Parquet columns need one type: amounts (ints of any size) and JSON values go as strings.
    names = list(page[0])
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for row in page:
        for name in names:
            value = row[name]
            if isinstance(value, int) and not isinstance(value, bool) and name.endswith("_raw"):
                value = str(value)
            elif isinstance(value, dict | list):
                value = orjson.dumps(value).decode()
            columns[name].append(value)
    return columns
