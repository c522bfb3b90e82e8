"""The webhook tables: endpoints, the outbox of messages, and the log of delivery attempts.

`webhook_endpoints`: where a tenant wants events sent. An endpoint names the event types it takes, a filter in the
vocabulary of the queries (the fields of the event's listing filter model, e.g. ``accounts``, ``assets``,
``contracts``, ``min_amount``), how it is signed (``hmac``: Standard Webhooks ``v1`` with a ``whsec_`` secret;
``ed25519``: ``v1a`` with a ``whsk_`` key whose ``whpk_`` public half is shown to the tenant), and whether it is
delivered in id order (``ordered``, the default: a message waits while an earlier one of the endpoint is retried).
``source`` is ``api`` (admin API, CLI) or ``config`` (the tenant YAML's ``webhook_url``, kept in step by
``tenants apply``). ``status`` is ``enabled`` or ``disabled`` (by the tenant, by a 410 answer, or after failing for
`webhook_disable_after_days`; ``disabled_reason`` says which).

`webhook_messages`: the outbox. A message is recorded in the ingest transaction that writes its row, so a batch's
rows and messages commit together or not at all. Its id (`message_id`) is derived from the endpoint, the event
type and the row id, so re-ingesting a ledger records nothing twice (the insert skips ids already there); it is
the ``webhook-id`` header and the payload's ``event_id``. ``payload`` is the exact body sent (JSON text), fixed
at recording so every attempt and replay sends the same bytes. ``status``: ``pending`` (``next_attempt_at`` says
when), ``delivered`` or ``dead`` (the retry schedule ran out).

`webhook_attempts`: one row per HTTP attempt (status code or error, latency, the start of the response), the
delivery log the admin API and CLI show.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from storage.tables import UTCDateTime, metadata

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
ENABLED, DISABLED = "enabled", "disabled"
HMAC, ED25519 = "hmac", "ed25519"

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),  # ep_ + random base32
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),  # [event type, ...]
    Column("filter", JSON, nullable=False),  # {listing filter field: value}; {} = every row of the events
    Column("description", String(200), nullable=True),
    Column("signing", String(8), nullable=False),  # hmac | ed25519
    Column("secret", Text, nullable=False),  # whsec_… (hmac) or whsk_… (ed25519): needed to sign, so kept
    Column("public_key", Text, nullable=True),  # whpk_… for ed25519
    Column("previous_secret", Text, nullable=True),  # during rotation: also signs until previous_expires_at
    Column("previous_public_key", Text, nullable=True),
    Column("previous_expires_at", UTCDateTime, nullable=True),
    Column("ordered", Boolean, nullable=False),
    Column("max_concurrency", Integer, nullable=False),  # in-flight attempts at once (1 when ordered)
    Column("source", String(8), nullable=False),  # api | config
    Column("status", String(16), nullable=False),  # enabled | disabled
    Column("disabled_reason", Text, nullable=True),
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("failing_since", UTCDateTime, nullable=True),  # first failure since the last success
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", String(160), primary_key=True),  # msg_<endpoint>_<event type>_<row id>
    Column(
        "endpoint_id",
        String(40),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("row_id", String(40), nullable=False),
    Column("ledger", BigInteger, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),  # pending only
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    # An endpoint's next messages in id order (ordered delivery, backlog, dead letters, replay by id).
    Index("ix_webhook_messages_endpoint_status_id", "endpoint_id", "status", "id"),
    # What is due, across endpoints (the sweeper).
    Index("ix_webhook_messages_status_next_attempt", "status", "next_attempt_at"),
    # Replay since a ledger.
    Index("ix_webhook_messages_endpoint_ledger", "endpoint_id", "ledger"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column(
        "message_id",
        String(160),
        ForeignKey("webhook_messages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("endpoint_id", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),  # 1-based, per message (a replay continues the count)
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),  # none when no answer (timeout, refused, blocked address)
    Column("outcome", String(16), nullable=False),  # success | failure
    Column("error", Text, nullable=True),  # why it failed, in words (timeout, connection refused, 500, ...)
    Column("response_snippet", Text, nullable=True),  # the first KiB of the answer
    Index("ix_webhook_attempts_endpoint_id", "endpoint_id", "id"),
)
