"""A graphql-core executor that copies plain fields instead of resolving them one by one.

Stock execution builds a resolve-info object, calls a resolver and completes the value for every field of
every row: for a page of 100 rows of 20 columns that is thousands of Python calls, and it is where a large
list query spends its time (REFERENCE §7: ~50x slower than writing the same JSON with orjson). Our object
types are backed by dicts and most of their fields have no resolver (`resolvers.row_types`), so for such a
field the value is just ``source[python_name]``:

- a leaf (scalar or enum) is serialized directly with the type's ``serialize``;
- an object, or a list of objects, has its sub-selection executed directly (no resolver, no is_type_of);
- anything else (fields with resolvers: connections, links, loaders; a null in a non-null field; a source
  that is not a dict) goes through graphql-core's own `execute_field`, so errors, nulls and awaitables keep
  their standard behaviour.

Per object type the plan (which fields are plain, and how to complete them) is computed once and kept on the
type's ``extensions``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.row_types import key_of

_PLAN = "obsrvr-plain-fields"


@dataclass(frozen=True)
class PlainField:
    key: str
    return_type: GraphQLOutputType
    non_null: bool
    is_list: bool
    leaf: Callable[[Any], Any] | None  # serialize, for leaf types
    object_type: GraphQLObjectType | None  # for object types


def _plain_field(field: Any) -> PlainField | None:
    definition = field.extensions.get("strawberry-definition")
    if definition is None or definition.base_resolver is not None or field.resolve is None:
        return None
    if not getattr(field.resolve, "_is_default", False):
        return None
    kind = field.type
    non_null = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if non_null else kind
    is_list = isinstance(inner, GraphQLList)
    if is_list:
        item = inner.of_type
        if not isinstance(item, GraphQLNonNull):  # nullable items: leave to graphql-core
            return None
        inner = item.of_type
    if is_leaf_type(inner):
        leaf: GraphQLLeafType = inner
        return PlainField(key_of(definition.python_name), kind, non_null, is_list, leaf.serialize, None)
    if isinstance(inner, GraphQLObjectType):
        return PlainField(key_of(definition.python_name), kind, non_null, is_list, None, inner)
    return None


def plan_for(parent_type: GraphQLObjectType) -> dict[str, PlainField]:
    plan: dict[str, PlainField] | None = parent_type.extensions.get(_PLAN)
    if plan is None:
        plan = {}
        for name, field in parent_type.fields.items():
            plain = _plain_field(field)
            if plain is not None:
                plan[name] = plain
        parent_type.extensions = {**parent_type.extensions, _PLAN: plan}
    return plan


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with the plain-field shortcut (see the module docstring)."""

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if type(source_value) is not dict:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plan = plan_for(parent_type)
        results: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for response_name, details in grouped_field_set.items():
                field_path = Path(path, response_name, parent_type.name)
                plain = plan.get(details[0].node.name.value)
                value = source_value.get(plain.key) if plain is not None else None
                if plain is None or (value is None and plain.non_null):
                    result = self.execute_field(
                        parent_type, source_value, details, field_path, position_context
                    )
                    if result is Undefined:
                        continue
                elif value is None:
                    result = None
                else:
                    result = self._complete_plain(plain, details, field_path, value, position_context)
                results[response_name] = result
                if self.is_awaitable(result):
                    pending.append(response_name)
        except Exception:
            if pending:
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results

        async def gather() -> dict[str, Any]:
            values = await gather_with_cancel(*(results[name] for name in pending))
            results.update(zip(pending, values, strict=True))
            return results

        return gather()

    def _complete_plain(
        self,
        plain: PlainField,
        details: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> Any:
        completed: Any
        try:
            if plain.leaf is not None:
                serialize = plain.leaf
                return [serialize(v) for v in value] if plain.is_list else serialize(value)
            object_type = plain.object_type
            assert object_type is not None
            if not plain.is_list:
                completed = self.collect_and_execute_subfields(
                    object_type, details, path, value, position_context
                )
            else:
                items = [
                    self.collect_and_execute_subfields(
                        object_type, details, Path(path, index, None), item, position_context
                    )
                    for index, item in enumerate(value)
                ]
                completed = self._gather_items(items) if any(map(self.is_awaitable, items)) else items
        except Exception as error:
            self.handle_field_error(error, plain.return_type, details, path)
            return None
        if self.is_awaitable(completed):
            return self._await_plain(completed, plain, details, path)
        return completed

    async def _gather_items(self, items: list[Any]) -> list[Any]:
        awaited = [index for index, item in enumerate(items) if self.is_awaitable(item)]
        values = await gather_with_cancel(*(items[index] for index in awaited))
        for index, item in zip(awaited, values, strict=True):
            items[index] = item
        return items

    async def _await_plain(
        self, completed: Awaitable[Any], plain: PlainField, details: FieldDetailsList, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as error:
            self.handle_field_error(error, plain.return_type, details, path)
            return None
