"""Asking the download program to sync in the background: renew leases, send queued uses.

The runtime has no network code and never derives the purchase key, so it cannot do either
itself. When a lease is past half its time (at most every 5 minutes), or a use was recorded
(at most every 10 seconds), it starts ``python -m tollgate sync --quiet`` detached from the
program (a stamp file keeps the pace), and only when the download program is importable here.
The child runs that same program from the folder this process found it in, isolated (``-I``:
no ``PYTHON*`` variables, no user site, not the working directory, which may hold anything),
and without site-packages too (``-S``) when this process has none (the launcher's ``-IS``: the
program runs out of its slot and nothing else). Offline, the sync
fails quietly and the next one tries again; nothing is lost, because the state holds the uses.
``TOLLGATE_BACKGROUND=0`` turns this off (tests, or a vendor who schedules ``tollgate sync``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from tollgate.runtime.home import HOME_ENV

BACKGROUND_ENV = "TOLLGATE_BACKGROUND"
LEASE_INTERVAL = 300.0  # seconds between two background syncs for leases
USE_INTERVAL = 10.0  # ... and for metered uses, which should reach the store soon
# ``tollgate sync --quiet`` from the folder given as the first argument, ahead of all else.
_SYNC = (
    "import sys; sys.path.insert(0, sys.argv[1]); sys.argv = ['tollgate', 'sync', '--quiet']; "
    "from tollgate.cli.main import entrypoint; entrypoint()"
)


def request_sync(home: Path, min_interval: float = LEASE_INTERVAL) -> bool:
    """Start a background sync unless one started less than ``min_interval`` seconds ago;
    True if one was started."""
    if os.environ.get(BACKGROUND_ENV, "1") == "0":
        return False
    cli = importlib.util.find_spec("tollgate.cli")
    if cli is None or cli.origin is None:
        return False
    program = str(Path(cli.origin).resolve().parents[2])  # <here>/tollgate/cli/__init__.py
    stamp = home / ".sync-requested"
    try:
        if time.time() - stamp.stat().st_mtime < min_interval:
            return False
    except FileNotFoundError:
        pass
    try:
        stamp.touch()
        flags = "-IS" if sys.flags.no_site else "-I"
        subprocess.Popen(
            [sys.executable, flags, "-c", _SYNC, program],
            env={**os.environ, HOME_ENV: str(home)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return False
    return True
