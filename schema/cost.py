"""The cost guard: how many objects an operation may ask for, estimated before it runs.

Depth, aliases and page sizes are each bounded, but their product is not: fifteen aliased pages of 100 rows,
each row linking to entities with nested lists, was the costliest request the other guards let through (see
docs/decisions.md "Fairness" for its time and bytes). The estimate walks the operation with its variables: a
field taking a page size (`first`/`last`, default `DEFAULT_PAGE`) multiplies what is below it by that size (its
`edges`/`nodes` lists hold that page), any other list field by `ASSUMED_LIST`; every object counts once per
copy. Over `MAX_OBJECTS` the operation is refused (`query_too_costly`) before anything is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

MAX_OBJECTS = 25_000
DEFAULT_PAGE = 10
ASSUMED_LIST = 20
"""Entries assumed for a list without a size argument (an account's balances: usually a handful, at most
1,000)."""
PAGE_ARGUMENTS = ("first", "last")


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Estimate:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.steps = 0

    def _page(self, node: FieldNode, field_args: Any) -> int | None:
        present = [a for a in node.arguments or () if a.name.value in PAGE_ARGUMENTS]
        for argument in present:
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode) and isinstance(self.variables.get(value.name.value), int):
                return int(self.variables[value.name.value])
        if any(name in field_args for name in PAGE_ARGUMENTS):
            return DEFAULT_PAGE
        return None

    def objects(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLObjectType,
        copies: int,
        paged: bool,
        spreading: frozenset[str] = frozenset(),
    ) -> int:
        """Objects below `selection_set` of `parent`, times `copies`; `paged`: the parent is a page, whose
        lists are that page."""
        total = 0
        for selection in selection_set.selections:
            self.steps += 1
            if self.steps > 100_000:  # never reached by a document the other guards let through
                return MAX_OBJECTS + 1
            if isinstance(selection, FieldNode):
                field = parent.fields.get(selection.name.value)
                named = get_named_type(field.type) if field is not None else None
                if (
                    field is None
                    or selection.selection_set is None
                    or not isinstance(named, GraphQLObjectType)
                ):
                    continue
                page = self._page(selection, field.args)
                if page is not None:
                    size = max(page, 0)
                elif _is_list(field.type):
                    size = 1 if paged else ASSUMED_LIST
                else:
                    size = 1
                inner = copies * size
                total += inner + self.objects(selection.selection_set, named, inner, page is not None)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                if isinstance(target, GraphQLObjectType):
                    total += self.objects(selection.selection_set, target, copies, paged, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value)
                if isinstance(target, GraphQLObjectType):
                    total += self.objects(fragment.selection_set, target, copies, paged, spreading | {name})
        return total


def estimated_objects(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> int:
    """The objects `operation` may return at most, by the rules of the module docstring."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _Estimate(schema, document, variables or {}).objects(operation.selection_set, root, 1, False)


def cost_error(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode | None,
    variables: Mapping[str, Any] | None,
) -> GraphQLError | None:
    """The refusal of an operation estimated over `MAX_OBJECTS`, or None."""
    if operation is None:
        return None
    objects = estimated_objects(schema, document, operation, variables)
    if objects <= MAX_OBJECTS:
        return None
    return GraphQLError(
        f"this query may return about {objects} objects; at most {MAX_OBJECTS} are served per request "
        "(pages times nested lists, aliases included): ask for smaller pages or fewer aliases",
        operation,
        extensions={"code": "query_too_costly", "estimatedObjects": objects, "maxObjects": MAX_OBJECTS},
    )
