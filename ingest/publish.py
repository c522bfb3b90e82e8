"""After-commit hook: publish each tenant's new rows on pub/sub (the source of GraphQL subscriptions).

Channel `rows:<tenant id>:<processor name>` (`storage.row_wire.rows_channel`). Message (version 2), orjson:

    {"v": 2, "network": "pubnet", "tenant_id": "...", "processor": "<processor name>",
     "first_ledger": 63092982, "last_ledger": 63092986,
     "tables": {"<history table name>": [<wire row>, ...]}}

History tables only (current-state and staging tables are the processor's bookkeeping); rows are in the
`storage.row_wire` form, which `decode_rows` turns back into the rows the query router returns. A processor with
no history rows in the batch publishes nothing (the subscription hubs repair gaps from the stores anyway:
`services.subscriptions`).
"""

from __future__ import annotations

from typing import Any

import orjson

from ingest.engine import CommitHook, CommittedBatch
from storage.pubsub import PubSub
from storage.row_wire import MESSAGE_VERSION, encode_rows, rows_channel

channel = rows_channel


def message_for(
    batch: CommittedBatch, tenant_id: str, processor_name: str, tables: dict[str, list[dict[str, Any]]]
) -> bytes | None:
    """The message of one tenant's processor in `batch` (None when it has no history rows)."""
    wire = {
        name: encode_rows(batch.tables[name], rows)
        for name, rows in tables.items()
        if rows and batch.tables[name].info.get("kind") == "history"
    }
    if not wire:
        return None
    return orjson.dumps(
        {
            "v": MESSAGE_VERSION,
            "network": batch.network.value,
            "tenant_id": tenant_id,
            "processor": processor_name,
            "first_ledger": batch.first_ledger,
            "last_ledger": batch.last_ledger,
            "tables": wire,
        }
    )


def publisher(pubsub: PubSub) -> CommitHook:
    async def publish(batch: CommittedBatch) -> None:
        for tenant_id, processors in batch.rows.items():
            for processor_name, tables in processors.items():
                message = message_for(batch, tenant_id, processor_name, dict(tables))
                if message is not None:
                    await pubsub.publish(channel(tenant_id, processor_name), message)

    return publish
