"""What callers may ask of widgets."""

from __future__ import annotations

from pydantic import Field

from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from storage.query import Filter
from tests.processors.widgets.extract import Color
from tests.processors.widgets.table import widgets


class WidgetFilter(FilterModel):
    """Filters on widgets."""

    colors: list[Color] = Field(default=[], max_length=MAX_FILTER_VALUES)


def to_filters(f: WidgetFilter) -> tuple[Filter, ...]:
    return any_of("color", f.colors)


WIDGETS = Listing(
    name="widgets",
    processor="widgets",
    table=widgets,
    filters=WidgetFilter,
    to_filters=to_filters,
    description="Widgets, in ledger order.",
)
