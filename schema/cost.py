"""The cost guard: how many objects an operation may ask for, estimated before it runs.

Depth, aliases and page sizes are each bounded, but their product is not: fifteen aliased pages of 100 rows,
each row linking to entities with nested lists, was the costliest request the other guards let through (see
docs/decisions.md "Fairness" for its time and bytes). The estimate walks the operation with its variables: a
field taking a page size (`first`/`last`) multiplies what is below it by that size (its `edges`/`nodes` lists
hold that page), any other list field by `ASSUMED_LIST`; every object counts once per copy. Over `MAX_OBJECTS`
the operation is refused (`query_too_costly`) before anything is read.

The page size is the one execution will use: the argument's literal, or its variable coerced as execution
coerces it (the variable's own default applied when the client leaves it out), or, for an argument not sent
(or a variable left out without a default), the schema argument's default (``Contract.storage(first: Int! =
100)``). A null page size is a connection's default page (`DEFAULT_PAGE`, as `resolvers.connection.page_size`
reads it). When the size cannot be known (variables that do not coerce: execution refuses them, or an argument
with no default), the estimate assumes the largest page (`MAX_PAGE`), never a small one.
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
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableNode,
    VariableValues,
    get_argument_values,
    get_named_type,
    get_variable_values,
)

from resolvers.connection import DEFAULT_FIRST, MAX_FIRST

MAX_OBJECTS = 25_000
DEFAULT_PAGE = DEFAULT_FIRST
"""A connection's page when `first` and `last` are null (`resolvers.connection.page_size`)."""
MAX_PAGE = MAX_FIRST
"""The page assumed when its size cannot be known before execution."""
ASSUMED_LIST = 20
"""Entries assumed for a list without a size argument (an account's balances: usually a handful, at most
1,000)."""
PAGE_ARGUMENTS = ("first", "last")


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Estimate:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues | None
    ) -> None:
        """`variables`: coerced as execution coerces them (defaults applied), or None when they do not
        coerce (execution refuses them; every page given by a variable is then assumed the largest)."""
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.steps = 0

    def _page(self, node: FieldNode, field: GraphQLField) -> int | None:
        """The page size of a field taking `first`/`last` (see the module docstring), None for any other."""
        if not any(name in field.args for name in PAGE_ARGUMENTS):
            return None
        if self.variables is None and any(
            isinstance(a.value, VariableNode) for a in node.arguments or () if a.name.value in PAGE_ARGUMENTS
        ):
            return MAX_PAGE
        try:  # execution's own reading: literals, variables, the variables' and the arguments' defaults
            values = get_argument_values(field, node, self.variables)
        except GraphQLError:  # execution refuses it; the estimate must not be lower than what might run
            return MAX_PAGE
        sizes = [values.get(name, Undefined) for name in PAGE_ARGUMENTS if name in field.args]
        known = [size for size in sizes if isinstance(size, int)]
        if known:
            return max(known)
        if all(size is None for size in sizes):  # null: the connection's default page
            return DEFAULT_PAGE
        return MAX_PAGE  # no value and no default: the resolver's own, which the schema does not tell

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
                page = self._page(selection, field)
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
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    return _Estimate(schema, document, None if isinstance(coerced, list) else coerced).objects(
        operation.selection_set, root, 1, False
    )


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
