"""The cold-memory budget holds whatever a file decodes to (storage.cold.memory.MemoryTables)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from storage.cold.memory import MemoryTables


def _file(path: Path, rows: int, text: str) -> Path:
    # One repeated long string: dictionary-encoded on disk (a few bytes), `rows` copies once decoded.
    pq.write_table(pa.table({"id": list(range(rows)), "asset": [text] * rows}), path)
    return path


async def test_a_file_that_decodes_above_a_quarter_of_the_budget_is_served_not_kept(tmp_path: Path) -> None:
    big = _file(tmp_path / "big.parquet", 20_000, "USDC:" + "G" * 56)
    tables = MemoryTables(max_bytes=1024 * 1024)
    meta = pq.ParquetFile(big).metadata
    raw = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
    assert tables.holds(raw)  # what the manifest's uncompressed size lets through ...
    first = await tables.table("big", big)
    assert first.num_rows == 20_000 and first.nbytes > tables.max_bytes // 4  # ... decodes to more
    assert tables.held == 0 and tables._bytes == 0


async def test_the_held_files_stay_within_the_budget(tmp_path: Path) -> None:
    tables = MemoryTables(max_bytes=256 * 1024)
    for n in range(12):
        await tables.table(n, _file(tmp_path / f"f{n}.parquet", 1_500, f"asset-{n}"))
        assert tables._bytes <= tables.max_bytes
        assert tables._bytes == sum(t.nbytes for t in tables._tables.values())
    assert 0 < tables.held < 12  # the oldest were evicted
    assert list(tables._tables)[-1] == 11
