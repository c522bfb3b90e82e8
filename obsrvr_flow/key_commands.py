"""`obsrvr-flow keys ...`: create, list and revoke a tenant's API keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from core.errors import FlowError
from obsrvr_flow.common import Stores, fail, load_settings, out, print_table, registry, run

app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")


@app.command("create")
def keys_create(
    tenant_id: str,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Repeatable; default read:*")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key")] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line of stdout."""
    from services.onboarding import check_key_name, check_scopes

    settings = load_settings()

    async def work() -> str:
        async with Stores(settings) as stores:
            if await stores.tenants.get(tenant_id) is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            scopes = check_scopes(registry(), scope)
            issued = await stores.keys.create(tenant_id, scopes, name=check_key_name(name))
            out.print(
                f"key {issued.key.id} (prefix {issued.key.prefix}, scopes {', '.join(issued.key.scopes)})"
            )
            return issued.secret

    secret = run(work)
    print(secret)


@app.command("list")
def keys_list(tenant_id: str) -> None:
    """List a tenant's keys (ids and prefixes; secrets are never stored)."""
    settings = load_settings()

    async def work() -> list[Any]:
        async with Stores(settings) as stores:
            return await stores.keys.list(tenant_id)

    print_table(
        ("id", "prefix", "name", "scopes", "created", "last used", "revoked"),
        [
            (
                k.id,
                k.prefix,
                k.name or "",
                " ".join(k.scopes),
                k.created_at.isoformat(timespec="seconds"),
                k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "",
                k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
            )
            for k in run(work)
        ],
    )


@app.command("revoke")
def keys_revoke(tenant_id: str, key_id: str) -> None:
    """Revoke an API key."""
    settings = load_settings()

    async def work() -> bool:
        async with Stores(settings) as stores:
            return await stores.keys.revoke(tenant_id, key_id)

    if not run(work):
        raise fail([f"no active key '{key_id}' for tenant '{tenant_id}'"])
    out.print(f"key {key_id}: revoked")
