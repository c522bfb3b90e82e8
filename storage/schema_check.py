"""Tables as the code declares them, checked against the database the migrations built.

A processor's tables (SQLAlchemy `Table`s) and its migration are written separately; if they disagree (a column
added to the table but not to the migration, or the other way round), writes fail on the first ledger that
touches it, or reads return what no one expects. `table_problems` compares the two when the service starts:
every declared table and column must exist with the same nullability and the same kind of type (integer,
exact numeric, text, boolean, time, JSON: a BIGINT where the code writes NUMERIC(39,0) amounts would fail on the
first large amount), the primary key (what idempotent writes conflict on) must be the declared one, and the
database may not hold a NOT NULL column without a default that the code does not know (its inserts would fail).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, Numeric, String, Table, inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator, TypeEngine

# Kinds of column type, compared between the code's declaration (as the dialect stores it) and the database.
_FAMILIES: tuple[tuple[str, tuple[type[TypeEngine[Any]], ...]], ...] = (
    ("boolean", (Boolean,)),
    ("integer", (Integer,)),
    ("exact numeric", (Numeric,)),
    ("time", (DateTime,)),
    ("JSON", (JSON,)),
    ("text", (String,)),
)


async def table_problems(engine: AsyncEngine, tables: Iterable[Table]) -> dict[str, list[str]]:
    """`{table name: problems}` for every table that differs from the database (empty: all match)."""
    wanted = list(tables)
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: _problems(sync, wanted))


def _problems(conn: Connection, tables: list[Table]) -> dict[str, list[str]]:
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    found: dict[str, list[str]] = {}
    for table in tables:
        problems: list[str] = []
        if table.name not in existing:
            found[table.name] = [f"table {table.name} does not exist in the database"]
            continue
        columns: dict[str, Any] = {c["name"]: c for c in inspector.get_columns(table.name)}
        for column in table.columns:
            stored = columns.get(column.name)
            if stored is None:
                problems.append(f"column {table.name}.{column.name} does not exist in the database")
                continue
            if not column.primary_key and bool(stored["nullable"]) != bool(column.nullable):
                declared = "nullable" if column.nullable else "NOT NULL"
                actual = "nullable" if stored["nullable"] else "NOT NULL"
                problems.append(
                    f"column {table.name}.{column.name} is {declared} here, {actual} in the database"
                )
            declared_kind = _family(_stored_type(column.type, conn.dialect))
            stored_kind = _family(stored["type"])
            if declared_kind and stored_kind and declared_kind != stored_kind:
                problems.append(
                    f"column {table.name}.{column.name} is {declared_kind} here, {stored_kind} in the database"
                )
        declared_key = [c.name for c in table.primary_key.columns]
        stored_key = inspector.get_pk_constraint(table.name).get("constrained_columns") or []
        if sorted(declared_key) != sorted(stored_key):
            problems.append(
                f"table {table.name}'s primary key is ({', '.join(declared_key)}) here, "
                f"({', '.join(stored_key) or 'none'}) in the database"
            )
        for name, stored in columns.items():
            if name not in table.c and not stored["nullable"] and stored.get("default") is None:
                problems.append(f"column {table.name}.{name} (NOT NULL, no default) is not declared here")
        if problems:
            found[table.name] = problems
    return found


def _stored_type(kind: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type the dialect stores for a declared one (a TypeDecorator's own choice: amounts are text on SQLite)."""
    if isinstance(kind, TypeDecorator):
        return _stored_type(kind.load_dialect_impl(dialect), dialect)
    return kind


def _family(kind: TypeEngine[Any]) -> str | None:
    """The kind of a column type (None: one this check does not compare)."""
    for family, classes in _FAMILIES:
        if isinstance(kind, classes):
            return family
    return None
