"""The after-commit hooks of an ingestion run from the command line (`obsrvr-flow ingest`).

With `OBSRVR_REDIS_URL` set, each committed batch is published on Redis pub/sub under `OBSRVR_REDIS_PREFIX`
(`ingest.publish`), so every API replica's GraphQL subscriptions get the rows at once, and the webhook
endpoints the batch recorded messages for are woken on the workers' queue (`ingest.webhook_wakeup`). Both
through the same `storage.backends.open_backends` the API and the workers use, so channels and queue names
agree.

Without Redis (the embedded mode) a command has no way into a running server's memory: its rows reach
subscribers through the subscription hub's periodic resync (`OBSRVR_SUBSCRIPTION_RESYNC_SECONDS`: a group whose
network moved reads what no message brought), and its webhook messages through the server's delivery sweep.
Redis configured but unreachable: the run goes on without hooks (Redis is an accelerator, not a store of
record), with a warning saying the same fallbacks apply.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from core.errors import ServiceUnavailable
from core.settings import Settings
from ingest.engine import CommitHook
from ingest.publish import publisher
from ingest.webhook_wakeup import delivery_notifier
from obsrvr_flow.common import err
from storage.backends import open_backends


@contextlib.asynccontextmanager
async def ingest_hooks(settings: Settings) -> AsyncIterator[list[CommitHook]]:
    """The commit hooks for `settings` (none without Redis), open for the block."""
    if settings.redis_url is None:
        yield []
        return
    try:
        backends = await open_backends(settings, {}, {})
    except ServiceUnavailable as exc:
        err.print(
            f"warning: {exc}; ingesting without publishing: subscribers get these rows at their next resync, "
            "webhooks at the next delivery sweep",
            highlight=False,
        )
        yield []
        return
    try:
        hooks = [publisher(backends.pubsub)]
        if backends.webhook_jobs is not None:
            hooks.append(delivery_notifier(backends.webhook_jobs))
        yield hooks
    finally:
        await backends.close()
