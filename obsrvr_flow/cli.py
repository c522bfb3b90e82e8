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
from obsrvr_flow.help_format import shows_processor_choices, tidy_help

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Obsrvr Flow: hosted Stellar data API.")
service_commands.register(app)
data_commands.register(app)
archive_commands.register(app)
app.add_typer(tenant_commands.app, name="tenants")
app.add_typer(key_commands.app, name="keys")
app.add_typer(live_commands.app, name="live")
app.add_typer(webhook_commands.app, name="webhooks")


def main() -> None:
    command = typer.main.get_command(app)
    # The processor names appear only in the `--help` of a command taking one: other runs skip the registry.
    tidy_help(command, _processor_choices() if shows_processor_choices(command, sys.argv[1:]) else {})
    try:
        command()
    except KeyboardInterrupt:
        sys.exit(130)


def _processor_choices() -> dict[str, list[str]]:
    """What `--processor` accepts: export takes any listing (current-state ones too), the other commands a
    processor; nothing when the registry does not load (the command that needs it says why)."""
    from core.errors import FlowError
    from processors.registry import default_registry

    try:
        processors = list(default_registry())
    except FlowError:
        return {}
    return {
        "export": [listing.name for p in processors for listing in p.listings],
        "": [p.name for p in processors],
    }
