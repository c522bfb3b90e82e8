"""The audit log: who did what, when, from where (authentication verdicts, admin actions).

Entries are buffered in memory and written in one multi-row insert per flush, so auditing every request
costs a list append on the request path. `flush_seconds == 0` writes each entry at once (tests, CLI).
A failed write keeps the entries for the next flush, so a transient database error loses nothing; the buffer
is bounded, and if the database stays away long enough to fill it the oldest entries are dropped (and that
is logged).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.validation import storable_text
from storage.buffered import BufferedWriter
from storage.tables import audit_log, utcnow

log = logging.getLogger(__name__)

MAX_BUFFERED = 100_000
FLUSH_AT = 1_000  # entries: flush early rather than wait for the timer


@dataclass(frozen=True)
class AuditEntry:
    """One audit event. `actor` is ``api_key``, ``admin`` or ``anonymous``; `action` e.g. ``auth.refused``."""

    action: str
    actor: str
    tenant_id: str | None = None
    key_prefix: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    client_ip: str | None = None
    detail: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=utcnow)


_LIMITS: dict[str, int] = {
    c.name: length for c in audit_log.columns if (length := getattr(c.type, "length", None))
}


def _fit(row: dict[str, Any]) -> dict[str, Any]:
    """Make strings storable and cut them to their column's length: audit values come from requests (paths,
    methods, tenant ids), and a NUL character or a too-long value must not make the database refuse the entry
    (a refused batch stays in the buffer and would block every later entry)."""
    for name, value in row.items():
        if isinstance(value, str):
            value = storable_text(value)
            limit = _LIMITS.get(name)
            row[name] = value[:limit] if limit is not None and len(value) > limit else value
    return row


class AuditLog(BufferedWriter):
    """Buffered writer and reader of `audit_log`. Call `start()` in a running loop, `close()` at shutdown."""

    def __init__(self, engine: AsyncEngine, flush_seconds: float) -> None:
        super().__init__(flush_seconds, "audit-log", log)
        self.engine = engine
        self._buffer: list[AuditEntry] = []
        self._lock = asyncio.Lock()

    async def record(self, entry: AuditEntry) -> None:
        """Queue `entry`; written at the next flush (at once when `flush_seconds` is 0)."""
        self._buffer.append(entry)
        if len(self._buffer) > MAX_BUFFERED:
            dropped = len(self._buffer) - MAX_BUFFERED
            del self._buffer[:dropped]
            log.error("audit buffer full: dropped the %d oldest entries", dropped)
        if self.flush_seconds == 0 or len(self._buffer) >= FLUSH_AT:
            try:
                await self.flush()
            except Exception:  # the caller's request must not fail because auditing did; retried later
                log.exception("audit log write failed; %d entries kept for the next flush", len(self._buffer))

    async def flush(self) -> int:
        """Write every buffered entry in one insert; returns how many. On error the entries stay buffered."""
        async with self._lock:  # one flush at a time, so no entry is written twice
            entries, self._buffer = self._buffer, []
            if not entries:
                return 0
            rows = [_fit(asdict(entry)) for entry in entries]
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(audit_log), rows)
            except (DataError, IntegrityError):
                # A row the database refuses must not block every later flush: write row by row, drop
                # (and log) only what is refused. Other errors (database away) keep everything.
                return await self._write_each(rows)
            except BaseException:
                self._buffer[:0] = entries  # oldest first, ahead of anything recorded meanwhile
                raise
            return len(entries)

    async def _write_each(self, rows: list[dict[str, Any]]) -> int:
        written = 0
        for row in rows:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(audit_log), [row])
                written += 1
            except DBAPIError:
                log.exception("audit entry refused by the database and dropped: %r", row)
        return written

    async def query(
        self, tenant_id: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Written entries, newest first, optionally for one tenant and/or one action."""
        statement = (
            select(audit_log).order_by(audit_log.c.created_at.desc(), audit_log.c.id.desc()).limit(limit)
        )
        if tenant_id is not None:
            statement = statement.where(audit_log.c.tenant_id == tenant_id)
        if action is not None:
            statement = statement.where(audit_log.c.action == action)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).mappings().all()
        # Plain str keys: SQLAlchemy hands back quoted_name (a str subclass) that JSON encoders refuse.
        return [{str(k): v for k, v in row.items()} for row in rows]
