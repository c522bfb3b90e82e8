"""GraphQL object types made from table columns, so every processor's rows look the same in GraphQL.

A row type has one field per column (the tenant column excepted), named in camelCase (``amount_raw`` ->
``amountRaw``; ``from`` stays ``from``), typed from the column's kind (`storage.columns`): amounts and other big
integers are ``BigInt`` strings, timestamps ``DateTime``, decoded ScVals ``JSON``, asset columns ``Asset``,
ledger numbers ``Int``. Nullability follows the column. Readings that are not table rows declare `RowField`s
and get their type the same way (`row_fields`). The fields have no resolvers: rows are dicts and the
schema's default resolver reads their keys (and `schema.executor` copies them without a resolver call).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from strawberry.annotation import StrawberryAnnotation
from strawberry.tools import create_type
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from resolvers.scalars import JSON, Asset, BigInt
from storage.columns import ColumnKind, RowField, table_fields

# The GraphQL type of each column kind (`storage.columns`, the one mapping all renderings share).
GRAPHQL_TYPES: dict[ColumnKind, Any] = {
    ColumnKind.AMOUNT: BigInt,
    ColumnKind.BIG_INTEGER: BigInt,
    ColumnKind.INTEGER: int,
    ColumnKind.BOOLEAN: bool,
    ColumnKind.DATETIME: datetime,
    ColumnKind.JSON: JSON,
    ColumnKind.ASSET: Asset,
    ColumnKind.TEXT: str,
}


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


def resolver_field(
    name: str, annotation: StrawberryAnnotation, resolve: Callable[..., Any], description: str
) -> StrawberryField:
    """A field `name` (its GraphQL name) answered by `resolve` (links, loaders, lookups)."""
    return StrawberryField(
        python_name=re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(),
        graphql_name=name,
        type_annotation=annotation,
        base_resolver=StrawberryResolver(resolve),
        description=description,
    )


def row_fields(fields: Iterable[RowField]) -> list[StrawberryField]:
    """One plain field per row field, typed by its kind (`GRAPHQL_TYPES`), nullable as the field is."""
    out = []
    for row_field in fields:
        kind = GRAPHQL_TYPES[row_field.kind]
        out.append(
            plain_field(
                row_field.name, kind | None if row_field.nullable else kind, description=row_field.description
            )
        )
    return out


def column_fields(table: Table, exclude: Iterable[str] = ()) -> list[StrawberryField]:
    """One plain field per column of `table` (without ``tenant_id`` and the `exclude`d columns)."""
    return row_fields(table_fields(table, exclude))


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
