"""`obsrvr-flow archive`: one tenant's archival to the cold tier, run now and to completion in this process
(registered on the command line by `register`). The admin API queues the same run as a job."""

from __future__ import annotations

from typing import Annotated

import typer

from core.errors import FlowError, NotFound
from obsrvr_flow.common import Stores, load_settings, out, registry, run


def archive(
    tenant: Annotated[str, typer.Option(help="Tenant id")],
    processor: Annotated[
        str | None, typer.Option(help="Only this processor (its name, as discovery lists them)")
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(
            help="Archive rows of ledgers before this ledger number, or closed before this ISO-8601 time "
            "(default: those older than the tenant's hot_retention_days)"
        ),
    ] = None,
) -> None:
    """Move a tenant's history rows to the cold tier now; prints what moved per processor and table."""
    from services.archiving import archive_tenant, closing_lines, parse_before, table_line
    from storage.cold.archival import TableArchived
    from storage.cold.store import ColdStore

    settings = load_settings()
    processors = registry()
    try:
        cut = parse_before(before) if before is not None else None
    except FlowError as exc:
        raise typer.BadParameter(exc.message.removeprefix("before: "), param_hint="--before") from None

    def show(moved: TableArchived) -> None:
        out.print(table_line(moved), highlight=False)

    async def work() -> list[str]:
        async with Stores(settings) as stores:
            record = await stores.tenants.get(tenant)
            if record is None:
                raise NotFound(f"no tenant '{tenant}'", code="tenant_not_found")
            store = ColdStore.from_settings(settings)
            try:
                report = await archive_tenant(
                    stores.engine,
                    store,
                    processors,
                    record,
                    processor=processor,
                    cut=cut,
                    progress=show,
                    max_file_rows=settings.archive_max_file_rows,
                    delete_batch_rows=settings.archive_delete_batch_rows,
                    cache_dir=settings.cold_cache_dir,
                )
            finally:
                await store.close()
        return closing_lines(report)

    for line in run(work):
        out.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    """Add `archive` to the command line."""
    app.command()(archive)
