"""GraphQL of widgets: the ``widgets`` connection of ``Widget`` rows."""

from __future__ import annotations

from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type
from tests.processors.widgets.query import WIDGETS
from tests.processors.widgets.table import widgets


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "Widget", lambda: object_type("Widget", column_fields(widgets), "A widget."), owner="widgets"
    )
    listing_field(parts, "widgets", "widgets", WIDGETS, "Widget")


graphql = GraphQLParts(contribute=contribute)
