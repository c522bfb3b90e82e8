"""Foundation: tenants, API keys, checkpoints, audit log, usage counters, monthly partitioning.

On PostgreSQL this also installs `obsrvr_ensure_monthly_partitions`, the one piece of partition maintenance
every partitioned table uses (the audit log here, processor tables later), and partitions `audit_log`.

Revision ID: 0001_foundation
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision: str | None = None
branch_labels = None
depends_on = None

# Creates the monthly partitions `<parent>_pYYYYMM` covering the months of from_ts..to_ts (UTC) that do not
# exist yet, and a DEFAULT partition `<parent>_default` if the table has none, so a write never fails.
# Rows already sitting in the default partition for a month being created are moved into the new partition
# (CREATE TABLE ... LIKE, copy, delete, ATTACH) instead of making CREATE ... PARTITION OF fail.
# Returns the number of monthly partitions created; concurrent callers are serialised per table.
ENSURE_MONTHLY_PARTITIONS = r"""
CREATE OR REPLACE FUNCTION obsrvr_ensure_monthly_partitions(
    parent regclass, from_ts timestamptz, to_ts timestamptz
)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
    parent_schema text;
    parent_name text;
    key_column text;
    default_oid oid;
    default_rel text;
    column_list text;
    month_start timestamptz;
    month_end timestamptz;
    last_month timestamptz;
    lower_bound text;
    upper_bound text;
    part_name text;
    has_rows boolean;
    created integer := 0;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR from_ts > to_ts THEN
        RETURN 0;
    END IF;
    SELECT n.nspname, c.relname INTO parent_schema, parent_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    SELECT a.attname INTO key_column
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent AND p.partstrat = 'r' AND p.partnatts = 1;
    IF key_column IS NULL THEN
        RAISE EXCEPTION 'obsrvr_ensure_monthly_partitions: % is not range-partitioned on one column', parent;
    END IF;

    -- API replicas and workers may run this at the same time: one at a time per table.
    PERFORM pg_advisory_xact_lock(hashtext('obsrvr_ensure_monthly_partitions'), hashtext(parent::text));

    SELECT partdefid INTO default_oid FROM pg_partitioned_table WHERE partrelid = parent;
    IF default_oid = 0 THEN
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT',
                       parent_schema, parent_name || '_default', parent);
        SELECT partdefid INTO default_oid FROM pg_partitioned_table WHERE partrelid = parent;
    END IF;
    default_rel := default_oid::regclass::text;

    -- Generated columns are recomputed on insert, so they are left out of the copy.
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO column_list
      FROM pg_attribute
     WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped AND attgenerated = '';

    month_start := date_trunc('month', from_ts, 'UTC');
    last_month := date_trunc('month', to_ts, 'UTC');
    WHILE month_start <= last_month LOOP
        month_end := ((month_start AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
        part_name := parent_name || '_p' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
        -- Bounds spelled in UTC with an explicit offset, whatever the session time zone.
        lower_bound := to_char(month_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00';
        upper_bound := to_char(month_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00';
        IF to_regclass(format('%I.%I', parent_schema, part_name)) IS NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= $1 AND %I < $2)',
                           default_rel, key_column, key_column)
               INTO has_rows USING month_start, month_end;
            IF has_rows THEN
                EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                               'INCLUDING GENERATED INCLUDING STORAGE)', parent_schema, part_name, parent);
                EXECUTE format('INSERT INTO %I.%I (%s) SELECT %s FROM %s WHERE %I >= $1 AND %I < $2',
                               parent_schema, part_name, column_list, column_list, default_rel,
                               key_column, key_column)
                   USING month_start, month_end;
                EXECUTE format('DELETE FROM %s WHERE %I >= $1 AND %I < $2',
                               default_rel, key_column, key_column)
                   USING month_start, month_end;
                EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                               parent, parent_schema, part_name, lower_bound, upper_bound);
            ELSE
                EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                               parent_schema, part_name, parent, lower_bound, upper_bound);
            END IF;
            created := created + 1;
        END IF;
        month_start := month_end;
    END LOOP;
    RETURN created;
END
$fn$
"""


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"

    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("last_used_at", _timestamp(), nullable=True),
        sa.Column("revoked_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_api_keys_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])

    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("ledger", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_checkpoints"),
    )

    audit_columns = [
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("method", sa.String(8), nullable=True),
        sa.Column("path", sa.String(512), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    ]
    if postgres:
        # A unique key of a partitioned table must include the partition column.
        op.create_table(
            "audit_log",
            sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
            *audit_columns,
            sa.PrimaryKeyConstraint("id", "created_at", name="pk_audit_log"),
            postgresql_partition_by="RANGE (created_at)",
        )
    else:
        op.create_table(
            "audit_log",
            sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
            *audit_columns,
            sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
            sqlite_autoincrement=True,
        )
    op.create_index("ix_audit_log_tenant_id_created_at", "audit_log", ["tenant_id", "created_at"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])

    op.create_table(
        "usage_counters",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("bucket", _timestamp(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", "bucket", "kind", name="pk_usage_counters"),
    )

    if postgres:
        op.execute(ENSURE_MONTHLY_PARTITIONS)
        # Fixed window, independent of settings: the daily maintenance job extends it.
        op.execute(
            "SELECT obsrvr_ensure_monthly_partitions("
            "'audit_log'::regclass, now() - interval '1 month', now() + interval '3 months')"
        )


def downgrade() -> None:
    op.drop_table("usage_counters")
    op.drop_table("audit_log")  # on PostgreSQL its partitions go with it
    op.drop_table("checkpoints")
    op.drop_table("api_keys")
    op.drop_table("tenants")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS obsrvr_ensure_monthly_partitions(regclass, timestamptz, timestamptz)"
        )
