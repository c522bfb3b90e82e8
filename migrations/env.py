"""Alembic environment for Obsrvr Flow.

Normally run through `storage.migrate`, which opens a connection on the service's own async engine and passes
it in ``config.attributes["connection"]`` (Alembic's "programmatic API with asyncio" recipe): the migrations
then run on that connection, inside its transaction. Run any other way (the ``alembic`` command with a
``sqlalchemy.url`` option, or nothing, which falls back to ``OBSRVR_DATABASE_URL``), it builds its own async
engine. ``render_as_batch`` is on for SQLite, whose ALTER TABLE is too limited for plain Alembic operations.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

import storage.cold.tables  # noqa: F401  (the cold tier's tables join the metadata)
from storage import purges  # noqa: F401  (the tenant purge record joins the metadata)
from storage.tables import metadata
from storage.webhooks import tables as webhook_tables  # noqa: F401  (webhook endpoints, outbox, log)

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("OBSRVR_DATABASE_URL")
    if url:
        return url
    from core.settings import Settings

    # Only the URL is needed: not building a whole Settings avoids demanding unrelated secrets.
    return str(Settings.model_fields["database_url"].default)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    from storage.db import create_engine

    engine = create_engine(_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
