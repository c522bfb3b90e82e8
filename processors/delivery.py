"""What a processor pushes to clients, declared with it: webhook event types and GraphQL subscription fields.

- `WebhookEvent`: an event type the processor emits. Tenant configs accept exactly the names the registered
  processors declare (``customer.api.webhook_events``), and only those of processors the tenant enables; the
  tenant's discovery document lists the events it may subscribe to. Each event is made from the rows of one of
  the processor's history listings (the row ``id`` is the event id).
- `Subscription`: a GraphQL subscription field (``on<Type>``) streaming the rows of one history listing, with
  that listing's filter input.

Delivery itself (signed webhook messages from an outbox, subscriptions over WebSockets) is built on these
declarations; the registry checks them at start-up (unique names, the listing belongs to the processor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.listing import Listing


@dataclass(frozen=True)
class WebhookEvent:
    """A webhook event type: its name (snake_case, unique across processors), what it means, and the history
    listing whose rows become its events."""

    name: str
    description: str
    listing: Listing[Any]


@dataclass(frozen=True)
class Subscription:
    """A GraphQL subscription field: ``field`` (``on<Node>``), the history listing it streams and the GraphQL
    type of one row (``node``)."""

    field: str
    listing: Listing[Any]
    node: str
    description: str
