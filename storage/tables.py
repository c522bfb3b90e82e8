"""The shared table registry (`metadata`) and the foundation tables.

Processors add their tables to the same `metadata`. The tables here describe what queries need; the
migrations (``migrations/versions``) are what create them, with the backend-specific details the Core
description leaves out. The one such detail visible here: on PostgreSQL `audit_log` is range-partitioned by
``created_at`` and its primary key is therefore ``(id, created_at)``; on SQLite it is ``id`` alone. Queries
only ever rely on ``id`` being unique, which holds on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

# Deterministic constraint names, so later migrations (and SQLite batch mode) can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always comes back as an aware UTC `datetime`.

    PostgreSQL stores ``timestamptz``. SQLite has no timestamp type: values are stored as naive UTC text, so
    they still sort and compare correctly, and get their UTC tzinfo back when read. A naive value passed in is
    taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        aware = aware.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw text read back without the type's processor (defensive)
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("network", String(16), nullable=False),
    Column("config", JSON, nullable=False),
    Column("config_version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("name", String(100), nullable=True),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("network", String(16), nullable=False),
    Column("ledger", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),  # the ledger's close time (null before 0005)
)

ingest_totals = Table(
    "ingest_totals",
    metadata,
    Column("network", String(16), primary_key=True),
    Column("subject", String(160), primary_key=True),  # "ledgers", or "rows:<table>"
    Column("total", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    # SQLite only auto-assigns ids to an INTEGER PRIMARY KEY column, hence the variant.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("tenant_id", String(64), nullable=True),  # no FK: audit rows outlive their tenant
    Column("actor", String(32), nullable=False),
    Column("key_prefix", String(16), nullable=True),
    Column("action", String(64), nullable=False),
    Column("method", String(8), nullable=True),
    Column("path", String(512), nullable=True),
    Column("status", Integer, nullable=True),
    Column("client_ip", String(64), nullable=True),
    Column("detail", JSON, nullable=True),
    PrimaryKeyConstraint("id"),
    Index(None, "tenant_id", "created_at"),
    Index(None, "created_at"),
    sqlite_autoincrement=True,
)

usage_counters = Table(
    "usage_counters",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),  # '' when the request had no key
    Column("bucket", UTCDateTime, nullable=False),  # start of the UTC hour
    Column("kind", String(32), nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key_id", "bucket", "kind"),
)

backfill_ranges = Table(
    "backfill_ranges",
    metadata,
    # One planned chunk of a tenant's backfill: an independent job. Progress is informational; where a chunk
    # resumes is decided by its checkpoint, written in the same transaction as its rows.
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("start_ledger", BigInteger, nullable=False),
    Column("end_ledger", BigInteger, nullable=False),
    Column("processors_key", String(255), nullable=False),  # sorted type names joined by "+"
    Column("network", String(16), nullable=False),
    Column("processors", JSON, nullable=False),  # processor type names this chunk fills
    Column("status", String(16), nullable=False),  # deferred | queued | running | done | failed
    Column("ledgers_done", BigInteger, nullable=False),
    Column("ledgers_per_second", Float, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "start_ledger", "end_ledger", "processors_key"),
)

ingested_ranges = Table(
    "ingested_ranges",
    metadata,
    # The ledgers ingested for a tenant's processor, whoever ingested them (live tail, backfill chunk,
    # `obsrvr-flow ingest`, `dev`): written in the batch's transaction (`storage.ingested_ranges`). Ranges that
    # touch are merged when read; a gap stays a gap. No foreign key, like the processor tables: a batch planned
    # before a tenant was deleted must still commit (the tenant purge deletes these rows).
    Column("tenant_id", String(64), nullable=False),
    Column(
        "processor", String(64), nullable=False
    ),  # the processor's type name, as backfill progress names it
    Column("first_ledger", BigInteger, nullable=False),
    Column("last_ledger", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "processor", "first_ledger"),
)
