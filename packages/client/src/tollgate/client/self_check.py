"""What a newly installed download program must pass before the launcher switches to it.

Run in a child process from the new slot (client/program.py): every client module imports, the
cryptography the client depends on works (an HPKE seal and open, the store's own scheme), and
the program says which version it is and where it runs from, so the caller can check both.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import secrets
from pathlib import Path

import tollgate.client
from tollgate.crypto.sealing import SealingPrivateKey

CLIENT_PACKAGES = (
    "tollgate.cli",
    "tollgate.client",
    "tollgate.crypto",
    "tollgate.protocol",
    "tollgate.runtime",
    "tollgate.wire",
)


class SelfCheckFailed(Exception):
    pass


def self_check() -> dict[str, str]:
    for name in CLIENT_PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, name + "."):
            importlib.import_module(module.name)
    key, message = SealingPrivateKey.generate(), secrets.token_bytes(32)
    info = b"tollgate/self-check"
    if key.open(key.public_key().seal(message, info), info) != message:
        raise SelfCheckFailed("HPKE does not open what it sealed")
    return {
        "version": tollgate.client.__version__,
        "package": str(Path(tollgate.client.__file__).resolve().parent),
        "python": platform.python_version(),
    }
