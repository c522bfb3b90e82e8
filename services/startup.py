"""What the app and the workers check when they start, so that a broken processor fails start-up with a message
naming it, never a tenant's first request:

1. the registry (built and validated by the composition root: `processors.registry.Registry`);
2. every processor's tables against the migrated database (`storage.schema_check`), when the database is at the
   migration head (otherwise readiness reports the pending migrations, and there is nothing to compare yet);
3. the GraphQL schema of every processor set in use by a tenant, and of all processors together
   (`schema.build.build_schemas`): two processors claiming one GraphQL name fail here.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import FlowError
from processors.registry import Registry
from schema.build import build_schemas
from services.tenant_configs import stored_configs
from storage.migrate import is_at_head
from storage.schema_check import table_problems
from storage.tenants import TenantStore

log = logging.getLogger("obsrvr_flow.startup")


class StartupCheckFailed(FlowError):
    """The processors do not match the database or each other (a deployment or programming error)."""

    code = "startup_check_failed"


async def check_startup(engine: AsyncEngine, registry: Registry) -> None:
    """Run the checks of the module docstring; `StartupCheckFailed` names every processor at fault."""
    try:
        at_head = await is_at_head(engine)
    except Exception as exc:  # an unreachable database: the service starts, and readiness says so
        log.warning(
            "database unreachable at start-up (%s): table and tenant checks skipped", type(exc).__name__
        )
        at_head = False
    if at_head:
        await _check_tables(engine, registry)
        sets = await _processor_sets(engine, registry)
    else:
        log.warning(
            "the database is not at the migration head: table and tenant checks skipped (see /readyz)"
        )
        sets = set()
    count = build_schemas(registry, sets)
    log.info("start-up checks passed: %d processors, %d GraphQL schemas", len(registry.processors), count)


async def _check_tables(engine: AsyncEngine, registry: Registry) -> None:
    owners = {table.name: processor for processor, table in registry.tables()}
    found = await table_problems(engine, (table for _, table in registry.tables()))
    if not found:
        return
    problems = [
        f"{owners[name].type_name} ({owners[name].name}): {problem}"
        for name, table_problems_ in found.items()
        for problem in table_problems_
    ]
    raise StartupCheckFailed(
        "processor tables do not match the migrated database (write or fix the processor's migration): "
        + "; ".join(problems),
        details={"problems": problems},
    )


async def _processor_sets(engine: AsyncEngine, registry: Registry) -> set[frozenset[str]]:
    """The distinct sets of enabled processors among the stored tenants."""
    # A tenant whose stored config no longer validates (a processor removed) must not stop the service for every
    # other tenant: it is logged and left out, and its requests are 503s until it is applied again.
    return {
        registry.enabled_names(config)
        for config in stored_configs(await TenantStore(engine).list(), registry)
    }
