"""What a GraphQL request is, in bounded words, for metrics and the access log: the operation kind and root
fields (names from the schema: only validated documents are named) and the number of data rows answered."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_ROOT_FIELDS = 3
"""Root fields named in a label; more are cut (`+more`), so a label has at most a few hundred values."""
NOT_RUN = "-"


def operation_labels(
    document: DocumentNode | None, operation: OperationDefinitionNode | None
) -> tuple[str, str]:
    """(kind, root fields): e.g. ("query", "_meta,widgets"); ("invalid", "-") for a document that did not
    parse or validate (its field names are the client's words, not the schema's), ("unknown", "-") when no
    operation was chosen."""
    if document is None:
        return "invalid", NOT_RUN
    if operation is None:
        return "unknown", NOT_RUN
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: set[str] = set()
    _collect(operation.selection_set, fragments, names, frozenset())
    ordered = sorted(names)
    label = ",".join(ordered[:MAX_ROOT_FIELDS])
    return operation.operation.value, label + (",+more" if len(ordered) > MAX_ROOT_FIELDS else "")


def _collect(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    names: set[str],
    seen: frozenset[str],
) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                _collect(fragments[name].selection_set, fragments, names, seen | {name})


def outcome(errors: list[dict[str, Any]] | None) -> str:
    """`ok`, or the code of the first error (codes come from our error tree and the masker: a bounded set)."""
    if not errors:
        return "ok"
    return str(errors[0].get("extensions", {}).get("code", "graphql_error"))
