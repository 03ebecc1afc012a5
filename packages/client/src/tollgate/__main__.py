"""``python -m tollgate``: the same as the ``tollgate`` command."""

from tollgate.cli.main import entrypoint

entrypoint()
