"""GraphQL subscription rows: catch-up through the query router, then live rows from pub/sub (`hub`).

What the WebSocket transport needs: `SubscriptionHub` (one per process), `SlowConsumer` (the error the transport
raises for a client that does not keep up, with `resume_after`), and `Pushed` (one item of
`schema.build.TenantSchema.subscribe`'s stream: the execution result and the row id).
"""

from schema.subscribe import Pushed
from services.subscriptions.errors import SlowConsumer
from services.subscriptions.hub import SubscriptionHub

__all__ = ["Pushed", "SlowConsumer", "SubscriptionHub"]
