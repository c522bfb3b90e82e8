"""GraphQL object types made from table columns, so every processor's rows look the same in GraphQL.

A row type has one field per column (the tenant column excepted), named in camelCase (``amount_raw`` ->
``amountRaw``; ``from`` stays ``from``), typed from the column: amounts and other big integers are
``BigInt`` strings, timestamps ``DateTime``, decoded ScVals ``JSON``, asset columns ``Asset``, ledger
numbers ``Int``. Nullability follows the column. The fields have no resolvers: rows are dicts and the
schema's default resolver reads their keys (and `schema.executor` copies them without a resolver call).
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON as SAJSON
from sqlalchemy import Boolean, Column, Integer, Table
from strawberry.annotation import StrawberryAnnotation
from strawberry.tools import create_type
from strawberry.types.field import StrawberryField

from resolvers.scalars import JSON, Asset, BigInt
from storage.processor_tables import is_wide_integer
from storage.tables import UTCDateTime

ASSET_COLUMNS = frozenset(
    {"asset", "sold_asset", "bought_asset", "base_asset", "counter_asset", "instance_asset"}
)


def python_name_of(key: str) -> str:
    """The Python attribute name of the dict key `key` (``from`` is a keyword: ``from_``)."""
    return f"{key}_" if keyword.iskeyword(key) else key


def key_of(python_name: str) -> str:
    """The dict key a field's Python name reads (the inverse of `python_name_of`)."""
    return (
        python_name[:-1] if python_name.endswith("_") and keyword.iskeyword(python_name[:-1]) else python_name
    )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _column_type(column: Column[Any]) -> Any:
    kind = column.type
    if is_wide_integer(column):
        return BigInt
    if isinstance(kind, UTCDateTime):
        return datetime
    if isinstance(kind, Integer):  # ledger numbers (BigInteger, u32) included
        return int
    if isinstance(kind, Boolean):
        return bool
    if isinstance(kind, SAJSON):
        return JSON
    if column.name in ASSET_COLUMNS:
        return Asset
    return str


def plain_field(
    python_name: str,
    annotation: Any,
    *,
    graphql_name: str | None = None,
    description: str | None = None,
) -> StrawberryField:
    """A field read from the dict key `python_name` (no resolver)."""
    if not isinstance(annotation, StrawberryAnnotation):
        annotation = StrawberryAnnotation(annotation)
    return StrawberryField(
        python_name=python_name_of(python_name),
        graphql_name=graphql_name or camel(python_name),
        type_annotation=annotation,
        description=description,
    )


def column_fields(table: Table, exclude: Iterable[str] = ()) -> list[StrawberryField]:
    """One plain field per column of `table` (without ``tenant_id`` and the `exclude`d columns)."""
    skipped = {"tenant_id", *exclude}
    fields = []
    for column in table.columns:
        if column.name in skipped:
            continue
        kind = _column_type(column)
        fields.append(
            plain_field(column.name, kind | None if column.nullable else kind, description=column.doc)
        )
    return fields


def object_type(name: str, fields: Sequence[StrawberryField], description: str | None = None) -> Any:
    """A Strawberry object type named `name` with `fields` (fields are made per schema, never shared).

    Field types may be names of types defined later in the same schema (`resolvers.parts.SchemaParts.ref`):
    `create_type` evaluates them at once and loses the namespace, so the original annotations are put back
    on the fields, to be resolved when the schema is converted.
    """
    annotations = {f.python_name: f.type_annotation for f in fields}
    cls = create_type(name, list(fields), description=description)
    for field in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        original = annotations.get(field.python_name)
        if original is not None:
            field.type_annotation = original
    return cls
