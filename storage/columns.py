"""What kind of value each column holds: the one mapping from a table's columns to how the service shows them.

Every place that turns rows into something a client reads asks this module, so the GraphQL types
(`resolvers.row_types`), the REST rows and their OpenAPI schemas (`api.rest_rows`, `api.openapi`) and the exports
(`obsrvr_flow.export`) cannot disagree about a column:

- ``amount``: an exact integer in raw units (`storage.amounts.Amount`), shown as a string of digits;
- ``big_integer``: another integer that may pass 2**53 (offer ids), also shown as a string (JSON numbers lose
  precision past it); ledger numbers are plain integers;
- ``integer``, ``boolean``, ``datetime`` (ISO 8601 UTC), ``json`` (decoded values as they are);
- ``asset``: text holding ``native``, ``CODE:ISSUER`` or a contract id (a column declared with `asset_column`);
- ``text``: anything else.

Readings that are not a table's rows (a pair's statistics, balances summed from transfers) describe their fields
with the same `RowField`, so they go through the same mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, String, Table

from storage.amounts import Amount
from storage.tables import UTCDateTime

# Column.info key marking a column whose text is an asset (see `asset_column`).
_ASSET = "asset"


class ColumnKind(StrEnum):
    AMOUNT = "amount"
    BIG_INTEGER = "big_integer"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    JSON = "json"
    ASSET = "asset"
    TEXT = "text"

    @property
    def as_string(self) -> bool:
        """Integers written as strings in JSON (exact past 2**53)."""
        return self in (ColumnKind.AMOUNT, ColumnKind.BIG_INTEGER)


@dataclass(frozen=True)
class RowField:
    """One field of a row as clients see it: its name (snake_case), kind, nullability and description."""

    name: str
    kind: ColumnKind
    nullable: bool = False
    description: str | None = None
    choices: tuple[str, ...] = ()
    """The values a text field takes, when it is an enumeration."""


def asset_column(name: str, *, nullable: bool = False, length: int = 100) -> Column[str]:
    """A column holding an asset string (``native``, ``CODE:ISSUER`` or a contract id), typed ``Asset`` in
    GraphQL."""
    return Column(name, String(length), nullable=nullable, info={_ASSET: True})


def column_kind(column: Column[Any]) -> ColumnKind:
    kind = column.type
    if isinstance(kind, Amount):
        return ColumnKind.AMOUNT
    if isinstance(kind, BigInteger) and not (
        column.name == "ledger_sequence" or column.name.endswith("_ledger")
    ):
        # 64-bit values such as offer ids; ledger numbers are u32 and stay plain integers.
        return ColumnKind.BIG_INTEGER
    if isinstance(kind, UTCDateTime):
        return ColumnKind.DATETIME
    if isinstance(kind, Integer):  # BigInteger ledger numbers included
        return ColumnKind.INTEGER
    if isinstance(kind, Boolean):
        return ColumnKind.BOOLEAN
    if isinstance(kind, JSON):
        return ColumnKind.JSON
    if column.info.get(_ASSET):
        return ColumnKind.ASSET
    return ColumnKind.TEXT


def table_fields(table: Table, exclude: Iterable[str] = ()) -> tuple[RowField, ...]:
    """The fields of `table`'s rows as clients see them: every column but ``tenant_id`` and `exclude`."""
    skipped = {"tenant_id", *exclude}
    return tuple(
        RowField(str(c.name), column_kind(c), bool(c.nullable), c.doc)
        for c in table.columns
        if c.name not in skipped
    )


def string_fields(fields: Iterable[RowField]) -> tuple[str, ...]:
    """Names of the fields whose integers are written as strings."""
    return tuple(f.name for f in fields if f.kind.as_string)
