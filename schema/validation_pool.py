"""Validating large GraphQL documents in another process, so that one tenant's costly documents do not take the
API process's GIL from the other tenants' requests.

A thread was not enough (docs/decisions.md "Fairness"): validation is pure Python and holds the GIL, so the
event loop waited for it at every wake-up. Here one spawned process (started on first use, about two seconds of
imports) parses and validates with the same guards, on the same schema built there from the service's own
processors (`default_registry()`, so only apps on that registry use the pool); the API process gets back only
the errors, or none, and then parses the document itself, in its preparation thread (parsing costs a fraction
of validating). Errors keep their message, locations and extensions.

If the process dies (killed, out of memory), the pool is broken: the call that finds it so drops it (logged
once per pool) and answers None, so that its caller validates that document in its thread; the next call starts
a new process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import Any

from graphql import GraphQLError, Source

ErrorParts = tuple[str, Any, Any]  # message, positions, extensions

log = logging.getLogger("obsrvr_flow.graphql")


def _exit_with(parent: int) -> None:
    """In the pool's process: end when the API process is gone, even killed (a pool left alone would wait for
    work for ever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _check(processors: frozenset[str], query: str) -> list[ErrorParts]:
    """In the pool's process: the guards' errors for `query` on the schema of `processors` (none: valid)."""
    from processors.registry import default_registry
    from schema.build import schema_for

    prepared = schema_for(default_registry(), processors).documents.check(query)
    return [(e.message, e.positions, e.extensions) for e in prepared.errors]


class ValidationPool:
    """One process validating documents; `close` ends it."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def errors(self, processors: frozenset[str], query: str) -> tuple[GraphQLError, ...] | None:
        """The guards' errors for `query` on the schema of `processors`, found in the pool's process; None when
        the process could not answer (it died: validate the document elsewhere; the next call starts a new one).
        """
        pool = self._pool
        if pool is None:
            pool = self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with,
                initargs=(os.getpid(),),
            )
        try:
            found = await asyncio.get_running_loop().run_in_executor(pool, _check, processors, query)
        except (BrokenExecutor, OSError) as error:  # the process died, or could not be started
            self._drop(pool, error)
            return None
        if not found:
            return ()
        source = Source(query)
        return tuple(
            GraphQLError(message, source=source, positions=positions, extensions=extensions)
            for message, positions, extensions in found
        )

    def _drop(self, pool: ProcessPoolExecutor, error: BaseException) -> None:
        """Forget a broken `pool` (once: the requests it failed together all land here, and a new pool may
        already have replaced it)."""
        if self._pool is not pool:
            return
        self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        log.warning(
            "the GraphQL validation process is gone (%s: %s); documents are validated in the API process "
            "until a new one starts (on the next large document)",
            type(error).__name__,
            error,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
