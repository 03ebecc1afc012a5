"""Commands other distributions add to ``tollgate``: the usual entry-point plugin, loaded only
when its command is named.

A distribution names, in the ``tollgate.commands`` group, one entry point per command it adds,
named as the command; the object is a function that takes a Typer app and adds its commands
(``tollgate-store``'s ``store`` and ``demo`` both name ``add_commands``, which adds both).
Nothing of a plugin is imported until its command is asked for (or ``--help`` lists them):
the store's commands bring FastAPI, SQLAlchemy and Alembic, a second of start-up that no
customer command needs. Only distributions named in `PLUGINS` are taken: the command handles
the customer's password and card, and any package installed beside it (a dependency's wheel,
say) could otherwise add or replace a command. Only the download program installed,
``tollgate store`` says where the vendor's commands come from instead of failing on an
import; a plugin that is installed but does not load says why.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches
from importlib.metadata import EntryPoint, entry_points
from typing import ClassVar

import typer
from packaging.utils import canonicalize_name
from typer import _click as click  # Typer 0.29 carries its own Click; these are its types
from typer.core import TyperGroup

from tollgate.cli.output import fail
from tollgate.wire.problems import Exit

GROUP = "tollgate.commands"
PLUGINS = frozenset({"tollgate-store"})  # the distributions whose commands are taken
STORE_HINT = (
    "the vendor's commands come with the store, which is not installed here: "
    "pip install tollgate-store (or the wheel `make dist` builds in a checkout, "
    "dist/tollgate_store-*.whl); the download program alone has no `tollgate store`"
)


class PluginGroup(TyperGroup):
    """The root command group: a plugin's command is made from its entry point the first
    time it is looked up, and kept."""

    lazy: ClassVar[dict[str, Callable[[], click.Command]]] = {}
    _made: ClassVar[dict[str, click.Command]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + sorted(set(self.lazy) - set(own))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            if cmd_name not in self._made:
                self._made[cmd_name] = self.lazy[cmd_name]()
            return self._made[cmd_name]
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Typer suggests among the commands it holds; a plugin's are suggested too."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.UsageError as exc:
            close = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if close:
                said = exc.message.split(". Did you mean")[0].rstrip(".")
                exc.message = f"{said}. Did you mean {', '.join(repr(m) for m in close)}?"
            raise


def add_plugins(app: typer.Typer) -> None:
    """Offer every installed plugin's commands on ``app`` (whose group is a `PluginGroup`),
    each loaded when named; a stand-in for ``store`` if no plugin provides it."""
    PluginGroup.lazy.clear()
    PluginGroup._made.clear()
    for entry in entry_points(group=GROUP):
        if entry.dist is None or canonicalize_name(entry.dist.name) not in PLUGINS:
            continue
        PluginGroup.lazy[entry.name] = _loader(entry)
    if "store" not in PluginGroup.lazy:
        PluginGroup.lazy["store"] = lambda: _stand_in("store", STORE_HINT)


def _loader(entry: EntryPoint) -> Callable[[], click.Command]:
    def load() -> click.Command:
        try:
            added = typer.Typer()
            entry.load()(added)
            made = typer.main.get_group(added).commands.get(entry.name)
        except Exception as exc:
            return _stand_in(entry.name, _broken(entry, exc))
        if made is None:
            return _stand_in(entry.name, _broken(entry, LookupError("it adds no such command")))
        return made

    return load


def _broken(entry: EntryPoint, exc: Exception) -> str:
    dist = entry.dist.name if entry.dist else entry.value
    return f"`tollgate {entry.name}` comes from {dist}, which is installed but does not load: {exc}"


def _stand_in(name: str, message: str) -> click.Command:
    """A command that says ``message`` (exit 2) whatever it is given."""
    said = typer.Typer()

    @said.command(
        name,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Not installed here: " + message.split(": ", 1)[-1],
        add_help_option=False,
    )
    def stand_in() -> None:
        raise fail(message, Exit.USAGE)

    @said.command("unused", hidden=True)
    def _unused() -> None:  # two commands make get_group a group, so names are kept
        return None

    return typer.main.get_group(said).commands[name]
