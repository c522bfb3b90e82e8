"""A throw-away processor that lives only in the test tree: widgets, one per ledger, green or blue.

It is built like a real processor — its folder holds its table, extraction, listing, REST route, GraphQL parts
and webhook event — and reaches the service only through a `Registry` that includes it, to show that adding a
processor touches no core file. Its table sits on its own metadata (its "migration" is the test creating it).
"""

from __future__ import annotations

from processors.base import Processor
from processors.delivery import Subscription, WebhookEvent
from tests.processors.widgets.extract import WidgetConfig, extract, select
from tests.processors.widgets.graphql import graphql
from tests.processors.widgets.query import WIDGETS
from tests.processors.widgets.rest import routes
from tests.processors.widgets.table import widgets

processor = Processor(
    name="widgets",
    type_name="WidgetProcessor",
    version=1,
    requires=(),
    config_model=WidgetConfig,
    description="One widget per ledger, green on even ledgers and blue on odd ones.",
    tables=(widgets,),
    archive=(widgets,),
    extract=extract,
    select=select,
    listings=(WIDGETS,),
    graphql=graphql,
    routes=routes,
    webhook_events=(WebhookEvent("widget_made", "A widget the tenant keeps.", WIDGETS),),
    subscriptions=(Subscription("onWidget", WIDGETS, "Widget", "Widgets as they are made."),),
)
