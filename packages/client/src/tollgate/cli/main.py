"""The ``tollgate`` command. Exit status (tollgate.wire.problems.Exit): 0 done; 2 usage, or this
machine's own problem; 3 refused by the store; 4 integrity or binding failure; 5 cannot reach
the store; 6 cancelled by you; 130 interrupted (Ctrl-C).

The customer's commands live in the ``*_commands`` modules, grouped by what they do; the
vendor's (``tollgate store``, ``tollgate demo``) come from the ``tollgate-store`` distribution
through the ``tollgate.commands`` entry point group (cli/plugins.py)."""

from __future__ import annotations

import sys

from tollgate.cli import account_commands, install_commands, purchase_commands
from tollgate.cli.common import app
from tollgate.cli.output import errors, output_closed
from tollgate.cli.plugins import add_plugins
from tollgate.wire.problems import Exit

__all__ = ["account_commands", "app", "entrypoint", "install_commands", "purchase_commands"]


def entrypoint() -> None:
    """The console script: the store's commands added, then the app. Ctrl-C before a command
    runs (while the program starts) is a line, not a traceback; output closed early (`| head`)
    ends quietly, as Unix tools do."""
    try:
        add_plugins(app)
        app()
    except KeyboardInterrupt:
        errors.print("interrupted: nothing was done")
        sys.exit(int(Exit.INTERRUPTED))
    except BrokenPipeError:
        sys.exit(output_closed().exit_code)
