"""After-commit hook: publish each tenant's new rows on pub/sub (the source of GraphQL subscriptions).

Channel `rows:<tenant id>:<processor name>`; message: JSON `{"network", "first_ledger", "last_ledger",
"rows"}` with amounts (`*_raw`) as strings, since they may exceed what JSON numbers carry exactly.
"""

from __future__ import annotations

from typing import Any

import orjson

from ingest.engine import CommitHook, CommittedBatch
from storage.pubsub import PubSub


def channel(tenant_id: str, processor_name: str) -> str:
    return f"rows:{tenant_id}:{processor_name}"


def _wire(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: str(v) if k.endswith("_raw") and v is not None else v for k, v in row.items() if k != "tenant_id"
    }


def publisher(pubsub: PubSub) -> CommitHook:
    async def publish(batch: CommittedBatch) -> None:
        for tenant_id, processors in batch.rows.items():
            for processor_name, tables in processors.items():
                # History rows only: current-state and staging tables are the processor's bookkeeping.
                rows = [
                    _wire(row)
                    for table, table_rows in tables.items()
                    if batch.tables[table].info.get("kind") == "history"
                    for row in table_rows
                ]
                if not rows:
                    continue
                message = {
                    "network": batch.network.value,
                    "first_ledger": batch.first_ledger,
                    "last_ledger": batch.last_ledger,
                    "rows": rows,
                }
                await pubsub.publish(channel(tenant_id, processor_name), orjson.dumps(message))

    return publish
