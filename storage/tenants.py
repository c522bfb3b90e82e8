"""Tenants: the stored, validated configuration document of each customer.

The store takes plain values (id, name, network, document); validating the document is the caller's job
(`core.tenant_config`). Every update bumps `config_version`, so caches and workers can tell configurations
apart without comparing documents.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import Conflict, NotFound
from storage.db import read_only
from storage.purges import purge_running
from storage.tables import tenants, utcnow


@dataclass(frozen=True)
class TenantRecord:
    """One tenant as stored: `config` is the validated configuration document."""

    id: str
    name: str
    network: str
    config: dict[str, Any]
    config_version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> TenantRecord:
        return cls(
            id=row.id,
            name=row.name,
            network=row.network,
            config=dict(row.config),
            config_version=row.config_version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


# Built once: a statement object reused keeps its SQLAlchemy cache key (built per request otherwise).
_TENANT_BY_ID = select(tenants).where(tenants.c.id == bindparam("id"))


class TenantStore:
    """Create, read, update and delete tenants. Deleting a tenant deletes its API keys (FK cascade)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # `get`: the request path's tenant read, one SELECT outside a transaction.
        self._reads = read_only(engine, single_statement=True)

    async def create(self, id: str, name: str, network: str, document: dict[str, Any]) -> TenantRecord:
        """Store a new tenant; an existing id is a `Conflict` (code ``tenant_exists``), and so is the id of a
        deleted tenant whose purge has not finished (code ``tenant_purging``): its rows are still being deleted,
        and a new tenant of that id would lose its own to the purge or inherit the old one's."""
        now = utcnow()
        values = {
            "id": id,
            "name": name,
            "network": network,
            "config": document,
            "config_version": 1,
            "created_at": now,
            "updated_at": now,
        }
        try:
            # The primary key decides, so two concurrent creates cannot both succeed.
            async with self.engine.begin() as conn:
                await conn.execute(insert(tenants).values(**values))
                # Checked after the insert: an insert racing the purge's first transaction (which deletes the
                # row and records the purge) waits for it on the key, then sees its record here.
                if await purge_running(conn, id):
                    raise Conflict(
                        f"tenant '{id}' is being deleted: its id can be used again once the purge has finished "
                        f"(GET /admin/tenants/{id} shows its progress)",
                        code="tenant_purging",
                    )
        except IntegrityError:
            raise Conflict(f"tenant '{id}' already exists", code="tenant_exists") from None
        return TenantRecord(id, name, network, dict(document), 1, now, now)

    async def update(self, id: str, name: str, network: str, document: dict[str, Any]) -> TenantRecord:
        """Replace the tenant's name, network and document and bump its version; unknown id is `NotFound`."""
        statement = (
            update(tenants)
            .where(tenants.c.id == id)
            .values(
                name=name,
                network=network,
                config=document,
                config_version=tenants.c.config_version + 1,
                updated_at=utcnow(),
            )
            .returning(*tenants.c)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise NotFound(f"tenant '{id}' not found", code="tenant_not_found")
        return TenantRecord.from_row(row)

    async def get(self, id: str) -> TenantRecord | None:
        async with self._reads.connect() as conn:
            row = (await conn.execute(_TENANT_BY_ID, {"id": id})).first()
        return TenantRecord.from_row(row) if row is not None else None

    async def list(self) -> builtins.list[TenantRecord]:
        """Every tenant, by id."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(tenants).order_by(tenants.c.id))).all()
        return [TenantRecord.from_row(row) for row in rows]

    async def version(self, network: str) -> tuple[int, Any]:
        """Changes whenever a tenant of `network` is created, updated or deleted: (count, last update). Cheap
        enough to poll (the live tail does, to pick up new tenants)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.max(tenants.c.updated_at)).where(tenants.c.network == network)
                )
            ).one()
        return int(row[0]), row[1]

    async def delete(self, id: str) -> bool:
        """Delete the tenant and its keys; False when there was no such tenant."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(tenants).where(tenants.c.id == id))
        return bool(result.rowcount)
