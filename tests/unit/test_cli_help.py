"""Every command and every argument and option of `tollgate` (the store's commands included)
says what it is for in `--help`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from tollgate.cli.main import app
from tollgate.cli.plugins import add_plugins


def commands(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every leaf command under ``command``, looked up as Click does (so a plugin's commands,
    loaded when named, are found too)."""
    if hasattr(command, "list_commands"):
        ctx = command.make_context(path, [], resilient_parsing=True)
        for name in command.list_commands(ctx):
            yield from commands(command.get_command(ctx, name), f"{path} {name}")
    else:
        yield path, command


def test_every_command_argument_and_option_has_help() -> None:
    add_plugins(app)
    found = list(commands(typer.main.get_command(app), "tollgate"))
    assert any(path == "tollgate store refund" for path, _ in found)  # the store's too
    silent = [
        f"{path} {param.name}"
        for path, command in found
        for param in command.params
        if not getattr(param, "help", None)
    ]
    assert silent == []
    assert [path for path, command in found if not command.help] == []
