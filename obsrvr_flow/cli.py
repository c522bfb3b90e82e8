"""The `obsrvr-flow` command line: every command module is registered here, explicitly.

Commands share their helpers through `obsrvr_flow.common`; each module adds its commands with `register(app)`
(or is a sub-application: `tenants`, `keys`).
"""

from __future__ import annotations

import sys

import typer

from obsrvr_flow import (
    archive_commands,
    data_commands,
    key_commands,
    live_commands,
    service_commands,
    tenant_commands,
    webhook_commands,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Obsrvr Flow: hosted Stellar data API.")
service_commands.register(app)
data_commands.register(app)
archive_commands.register(app)
app.add_typer(tenant_commands.app, name="tenants")
app.add_typer(key_commands.app, name="keys")
app.add_typer(live_commands.app, name="live")
app.add_typer(webhook_commands.app, name="webhooks")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
