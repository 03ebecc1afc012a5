"""Every command and every argument and option of `tollgate` (the store's commands included)
says what it is for in `--help`."""

from __future__ import annotations

from collections.abc import Iterator

import click
import typer

from tollgate.cli.main import app
from tollgate.cli.plugins import add_plugins


def commands(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from commands(sub, f"{path} {name}")
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
