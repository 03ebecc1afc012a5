"""Commands other distributions add to ``tollgate``: the usual entry-point plugin.

A distribution names, in the ``tollgate.commands`` group, a function that takes the Typer app
and adds its commands (``tollgate-store`` adds ``store`` and ``demo``). Only distributions
named in `PLUGINS` are loaded: the command handles the customer's password and card, and any
package installed beside it (a dependency's wheel, say) could otherwise add or replace a
command. Only the download program installed, ``tollgate store`` says where the vendor's
commands come from instead of failing on an import; a plugin that is installed but does not
load says why.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import typer
from packaging.utils import canonicalize_name

from tollgate.cli.output import fail
from tollgate.wire.problems import Exit

GROUP = "tollgate.commands"
PLUGINS = frozenset({"tollgate-store"})  # the distributions whose commands are taken
STORE_HINT = (
    "the vendor's commands come with the store, which is not installed here: "
    "pip install tollgate-store (or the wheel `make dist` builds in a checkout, "
    "dist/tollgate_store-*.whl); the download program alone has no `tollgate store`"
)


def add_plugins(app: typer.Typer) -> None:
    """Add every installed plugin's commands to ``app``; a stand-in for ``store`` if none
    provides it."""
    names = set()
    for entry in entry_points(group=GROUP):
        if entry.dist is None or canonicalize_name(entry.dist.name) not in PLUGINS:
            continue
        names.add(entry.name)
        try:
            entry.load()(app)
        except Exception as exc:
            _stand_in(app, entry.name, _broken(entry, exc))
    if "store" not in names:
        _stand_in(app, "store", STORE_HINT)


def _broken(entry: EntryPoint, exc: Exception) -> str:
    dist = entry.dist.name if entry.dist else entry.value
    return f"`tollgate {entry.name}` comes from {dist}, which is installed but does not load: {exc}"


def _stand_in(app: typer.Typer, name: str, message: str) -> None:
    @app.command(
        name,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Not installed here: " + message.split(": ", 1)[-1],
        add_help_option=False,
    )
    def stand_in() -> None:
        raise fail(message, Exit.USAGE)
