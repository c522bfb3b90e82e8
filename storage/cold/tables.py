"""The cold tier's records in the hot store: where each tenant's archive of a table stands, and which Parquet
files hold it.

`archive_watermarks`: per tenant and history table, the last row (id, ledger, close time) that is in the cold
tier. It moves only after the files holding the rows up to it were written and verified, in the same
transaction that records those files in `cold_files`. Readers read cold rows with ids up to it and hot rows
after it, so a row is served from exactly one tier at every moment.

`cold_files`: the manifest of the cold tier. A reader lists files here, never in the bucket: partition pruning
by time and ledger range costs one indexed read instead of object-store listings, and a file written by a run
that crashed before its watermark moved is not in the manifest, so no reader ever sees its rows twice. Sizes
and counts feed the cost report.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table

from storage.tables import UTCDateTime, metadata

archive_watermarks = Table(
    "archive_watermarks",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("table_name", String(64), nullable=False),
    Column("last_id", String(32), nullable=False),  # the last archived row id (ids sort as the order key)
    Column("last_ledger", BigInteger, nullable=False),
    Column("last_closed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "table_name"),
)

cold_files = Table(
    "cold_files",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("table_name", String(64), nullable=False),
    Column(
        "key", String(512), nullable=False
    ),  # relative to the cold root: customer_id=/processor=/year=/month=/
    Column("processor", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("month", Integer, nullable=False),
    Column("first_id", String(32), nullable=False),
    Column("last_id", String(32), nullable=False),
    Column("first_ledger", BigInteger, nullable=False),
    Column("last_ledger", BigInteger, nullable=False),
    Column("min_closed_at", UTCDateTime, nullable=False),
    Column("max_closed_at", UTCDateTime, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),  # the object's size
    Column(
        "raw_bytes", BigInteger, nullable=False
    ),  # uncompressed size of its column chunks (compression ratio)
    Column("checksum", String(64), nullable=False),  # over its order keys, as verified after writing
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "table_name", "key"),
    Index("ix_cold_files_tenant_id_table_name_last_id", "tenant_id", "table_name", "last_id"),
)
