"""Tenant configs keep only the webhook events of the processors they enable.

Until this revision `customer.api.webhook_events` accepted any known event name; since processors declare the
events they emit, a config may name only events of processors it enables. A stored config naming others (never
delivered: no processor of the tenant emits them) would no longer validate, so they are dropped here. The
event -> processor map is frozen as it stood at this revision. Nothing else of the document changes.

Revision ID: 0006_webhook_events
Revises: 0005_checkpoint_closed_at
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_webhook_events"
down_revision: str | None = "0005_checkpoint_closed_at"
branch_labels = None
depends_on = None

EMITTED_BY = {
    "token_transfer": "TokenTransferProcessor",
    "large_payment": "TokenTransferProcessor",
    "contract_event": "ContractEventProcessor",
    "dex_trade": "DEXTradeProcessor",
    "balance_change": "AccountBalanceProcessor",
    "contract_data_change": "ContractDataProcessor",
}

_tenants = sa.table("tenants", sa.column("id", sa.String), sa.column("config", sa.JSON))


def kept_events(document: dict[str, Any]) -> list[Any] | None:
    """The document's webhook events of enabled processors, or None when nothing is to be dropped."""
    customer = document.get("customer") or {}
    api = customer.get("api") or {}
    events = api.get("webhook_events") or []
    enabled = {
        entry.get("type")
        for entry in customer.get("processors") or []
        if entry.get("enabled", True) is not False
    }
    kept = [event for event in events if EMITTED_BY.get(event) in enabled or event not in EMITTED_BY]
    return kept if len(kept) != len(events) else None


def upgrade() -> None:
    bind = op.get_bind()
    for tenant_id, config in bind.execute(sa.select(_tenants.c.id, _tenants.c.config)).all():
        document = json.loads(config) if isinstance(config, str) else config
        kept = kept_events(document)
        if kept is None:
            continue
        document["customer"]["api"]["webhook_events"] = kept
        bind.execute(sa.update(_tenants).where(_tenants.c.id == tenant_id).values(config=document))


def downgrade() -> None:
    """The dropped names are not restored: no processor of those tenants ever emitted them."""
