"""REST route of widgets."""

from __future__ import annotations

from processors.rest_spec import RestParam, RestRoute
from tests.processors.widgets.query import WIDGETS

routes = (
    RestRoute(
        path="/widgets",
        processor="widgets",
        listing=WIDGETS,
        summary="Widgets",
        description="Widgets, in ledger order.",
        params=(RestParam("color", "colors", "green or blue."),),
    ),
)
