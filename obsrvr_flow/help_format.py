"""How `--help` shows options: no type placeholders (`<str>`, `<bool>`, `<int>` on every line tell a reader
nothing the option's own help does not), and the accepted values where there is a fixed list (`--format`,
`--processor`, `--network`) so nobody has to guess or read the code.

Typer shows a parameter's `metavar` in place of its type when one is set: options with a list of values get it
as `a|b|c`, every other option an empty one, and arguments their upper-case name (Typer shows the metavar as an
argument's name too). The processor names come from the registry, which is only known at run time, so this runs
on the built command tree in `obsrvr_flow.cli.main`, not at import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import typer
from typer.core import TyperArgument

PROCESSOR_OPTIONS = ("processor",)
"""Options that take a processor or listing name: their choices are filled in from the registry."""


def commands(command: Any) -> Iterator[Any]:
    """`command` and every command below it (Typer's commands: its own copy of click's classes)."""
    yield command
    if hasattr(command, "list_commands"):
        context = typer.Context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None:
                yield from commands(sub)


def shows_processor_choices(root: Any, args: Sequence[str]) -> bool:
    """Whether `args` ask for the help of a command with a processor option (its help lists the names)."""
    if "--help" not in args:
        return False
    command = root
    for arg in args:
        sub = command.get_command(typer.Context(command), arg) if hasattr(command, "get_command") else None
        if sub is None:
            break
        command = sub
    return any(param.name in PROCESSOR_OPTIONS for param in command.params)


def tidy_help(root: Any, processor_choices: Mapping[str, Sequence[str]]) -> None:
    """Replace type placeholders in every command's help: choices where known, nothing otherwise.

    `processor_choices`: what `--processor` takes, by command name (`""`: any other command)."""
    for command in commands(root):
        context = typer.Context(command)
        help_option = command.get_help_option(context)
        for param in [*command.params, *([help_option] if help_option is not None else [])]:
            if param.metavar is not None:
                continue
            if isinstance(param, TyperArgument):
                param.metavar = (param.name or "value").upper()
                # Typer shows an argument's type beside its name whatever its metavar: nothing instead.
                param.display_type_rich = _no_type  # type: ignore[method-assign]  # this one parameter only
            elif getattr(param, "type_descriptor", None) is not None and param.type_descriptor.is_choice:
                param.metavar = param.display_type(context).strip("<>")  # Typer's `<a|b>` without brackets
            else:
                param.metavar = ""
                names = processor_choices.get(command.name, processor_choices.get("", ()))
                if param.name in PROCESSOR_OPTIONS and names:
                    param.help = f"{param.help or ''} (one of: {', '.join(names)})".strip()


def _no_type(ctx: Any) -> None:
    return None
