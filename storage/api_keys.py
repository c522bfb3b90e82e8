"""API keys: issued once, stored only as a peppered hash.

A secret looks like ``ofk_`` + 43 URL-safe characters (256 random bits). Its first 12 characters, the
`prefix`, are stored in clear: they identify the key in listings and logs, and find its row. The rest is
checked against ``HMAC-SHA256(pepper, secret)``; the pepper lives in settings, not in the database, so a
leaked table alone does not allow offline guessing. The secret itself is never stored nor logged.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import logging
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import NotFound
from storage.db import read_only
from storage.tables import api_keys, tenants, utcnow

log = logging.getLogger(__name__)

SECRET_PREFIX = "ofk_"  # noqa: S105 - the public marker of our keys, not a secret
SECRET_RANDOM_LENGTH = 43  # secrets.token_urlsafe(32)
SECRET_LENGTH = len(SECRET_PREFIX) + SECRET_RANDOM_LENGTH
PREFIX_LENGTH = 12
_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored (no secret). `prefix` is the secret's first 12 characters."""

    id: str
    tenant_id: str
    prefix: str
    name: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: Row[Any]) -> ApiKey:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            prefix=row.prefix,
            name=row.name,
            scopes=tuple(row.scopes),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key and its secret: the only time the secret is available."""

    key: ApiKey
    secret: str

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"IssuedKey(key={self.key!r}, secret='{self.key.prefix}…')"


def well_formed(secret: str) -> bool:
    """Whether `secret` has the shape of one of our keys (checked before touching the database)."""
    return (
        len(secret) == SECRET_LENGTH
        and secret.startswith(SECRET_PREFIX)
        and all(ch in _URLSAFE for ch in secret[len(SECRET_PREFIX) :])
    )


async def touch_keys(conn: AsyncConnection, last_used: Mapping[str, datetime]) -> None:
    """Set `last_used_at` of the given keys on `conn`; it never moves backwards. Unknown ids are ignored."""
    if not last_used:
        return
    statement = (
        update(api_keys)
        .where(
            and_(
                api_keys.c.id == bindparam("b_id"),
                or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < bindparam("b_at")),
            )
        )
        .values(last_used_at=bindparam("b_at"))
    )
    # Sorted, so concurrent flushes lock rows in the same order.
    params = [{"b_id": key_id, "b_at": at} for key_id, at in sorted(last_used.items())]
    await conn.execute(statement, params)


# Built once: a statement object reused keeps its SQLAlchemy cache key (built per request otherwise).
_KEY_BY_PREFIX = select(api_keys).where(api_keys.c.prefix == bindparam("prefix"))


class ApiKeyStore:
    """Issue, verify, list and revoke API keys; `pepper` is the server-side secret mixed into the hashes."""

    def __init__(self, engine: AsyncEngine, pepper: str) -> None:
        self.engine = engine
        # `verify`: one SELECT per request, outside a transaction.
        self._reads = read_only(engine, single_statement=True)
        self._pepper = pepper.encode()

    def _hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    async def create(
        self, tenant_id: str, scopes: Sequence[str] = ("read:*",), name: str | None = None
    ) -> IssuedKey:
        """Issue a key for `tenant_id` (`NotFound` if there is no such tenant).

        The returned secret is stored nowhere and cannot be shown again.
        """
        for _attempt in range(3):
            secret = SECRET_PREFIX + secrets.token_urlsafe(32)
            key = ApiKey(
                id="key_" + secrets.token_hex(8),
                tenant_id=tenant_id,
                prefix=secret[:PREFIX_LENGTH],
                name=name,
                scopes=tuple(scopes),
                created_at=utcnow(),
                last_used_at=None,
                revoked_at=None,
            )
            values = {
                "id": key.id,
                "tenant_id": key.tenant_id,
                "prefix": key.prefix,
                "key_hash": self._hash(secret),
                "name": key.name,
                "scopes": list(key.scopes),
                "created_at": key.created_at,
            }
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(api_keys).values(**values))
            except IntegrityError:
                # Either an unknown tenant or, astronomically rarely, a prefix/id collision (retry).
                if not await self._tenant_exists(tenant_id):
                    raise NotFound(f"tenant '{tenant_id}' not found", code="tenant_not_found") from None
                continue
            return IssuedKey(key, secret)
        raise RuntimeError("could not generate a unique API key")

    async def _tenant_exists(self, tenant_id: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(func.count()).where(tenants.c.id == tenant_id))
            return bool(found.scalar_one())

    async def verify(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None (unknown, wrong, revoked or malformed)."""
        if not well_formed(secret):
            return None
        async with self._reads.connect() as conn:
            row = (await conn.execute(_KEY_BY_PREFIX, {"prefix": secret[:PREFIX_LENGTH]})).first()
        if row is None:
            return None
        if not hmac.compare_digest(row.key_hash, self._hash(secret)):
            log.debug("api key with prefix %s presented with a wrong secret", row.prefix)
            return None
        key = ApiKey.from_row(row)
        return key if key.active else None

    async def revoke(self, tenant_id: str, key_id: str) -> bool:
        """Revoke the tenant's active key; False if that tenant has no such key or it is already revoked
        (the first revocation time is kept)."""
        statement = (
            update(api_keys)
            .where(
                api_keys.c.id == key_id, api_keys.c.tenant_id == tenant_id, api_keys.c.revoked_at.is_(None)
            )
            .values(revoked_at=utcnow())
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def list(self, tenant_id: str) -> builtins.list[ApiKey]:
        """The tenant's keys, revoked ones included, oldest first."""
        statement = (
            select(api_keys)
            .where(api_keys.c.tenant_id == tenant_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return [ApiKey.from_row(row) for row in rows]

    async def get(self, key_id: str) -> ApiKey | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return ApiKey.from_row(row) if row is not None else None

    async def touch(self, last_used: Mapping[str, datetime]) -> None:
        """Record when keys were last used (``{key_id: time}``), in one statement batch."""
        async with self.engine.begin() as conn:
            await touch_keys(conn, last_used)
