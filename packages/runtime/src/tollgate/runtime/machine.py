"""Facts about this machine that licences bind to: its id (the key file's default binding) and
its OS release (a licence policy). Each can be set by an environment variable, for containers
and tests; neither is a secret from the machine's owner (docs/runtime.md says what that means).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

MACHINE_ENV = "TOLLGATE_MACHINE_ID"
OS_RELEASE_ENV = "TOLLGATE_OS_RELEASE"
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def machine_id() -> str | None:
    """``TOLLGATE_MACHINE_ID`` if set, else the OS's machine id."""
    env = os.environ.get(MACHINE_ENV)
    if env:
        return env.strip()
    for path in MACHINE_ID_FILES:
        try:
            value = path.read_text().strip()
        except OSError:
            continue
        if value:
            return value
    return None


def os_release() -> str:
    """The OS release as a customer would name it: ``debian 12`` from os-release(5) on Linux
    (not the kernel's version, which changes with every security update), else the system and
    its release (``Darwin 23.4.0``, ``Windows 11``)."""
    env = os.environ.get(OS_RELEASE_ENV)
    if env:
        return env.strip()
    try:
        info = platform.freedesktop_os_release()
    except OSError:
        info = {}
    if info.get("ID"):
        return f"{info['ID']} {info.get('VERSION_ID', '')}".strip()
    return f"{platform.system()} {platform.release()}".strip()
