"""The download program updating itself (DESIGN.md section 5, self-update).

An install list (or ``/v1/store``) only *names* the latest client version; what is installed is
the TUF target ``client/<version>/tollgate-client.zip``, checked like every other target: listed
by the client role, its length and SHA-256 as signed, ``custom`` saying it is that version of the
client, for a Python this machine has. Only a newer version is taken, so a store cannot talk a
customer back to an older client. Then client/program.py stages it in the other slot, checks it
starts, and switches the launcher; `hand_off` gives the command being run to the new version.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from tollgate import __version__
from tollgate.client.errors import IntegrityFailure
from tollgate.client.program import HANDED_OFF, Launch, ProgramFolder
from tollgate.client.trust import StoreTrust
from tollgate.wire.client_archive import (
    BadClientArchive,
    archive_version,
    client_target,
    read_archive,
)


@dataclass(frozen=True)
class ClientUpdate:
    previous: str
    version: str
    slot: str

    def to_json(self) -> dict[str, str]:
        return {"from": self.previous, "to": self.version, "slot": self.slot}


def newer_than_running(listed: str | None, running: str = __version__) -> str | None:
    """``listed`` if it names a version newer than ``running``; None otherwise (and for a
    version that does not parse: the list is not trusted, the update would be refused anyway)."""
    if listed is None:
        return None
    try:
        return listed if Version(listed) > Version(running) else None
    except InvalidVersion:
        return None


def handed_off() -> bool:
    """Whether this process is the new version a command was handed to (it updates no more)."""
    return bool(os.environ.get(HANDED_OFF))


def fetch_client(trust: StoreTrust, version: str) -> dict[str, bytes]:
    """The archive of client ``version``, every byte checked against TUF, then read."""
    info = trust.target(client_target(version))
    custom = info.custom
    if (custom.get("kind"), custom.get("version")) != ("client", version):
        raise IntegrityFailure(f"{info.path} is not the download program {version}")
    try:
        needs = SpecifierSet(str(custom.get("requires_python", "")))
    except InvalidSpecifier as exc:
        raise IntegrityFailure(f"{info.path} names no usable Python requirement") from exc
    if platform.python_version() not in needs:
        raise IntegrityFailure(
            f"the download program {version} needs Python {needs}; this is "
            f"{platform.python_version()}"
        )
    data = trust.target_bytes(info)
    try:
        members = read_archive(data)
        inside = archive_version(members)
    except BadClientArchive as exc:
        raise IntegrityFailure(f"the download program {version} is malformed: {exc}") from exc
    if inside != version:
        raise IntegrityFailure(f"the archive of {version} holds version {inside}")
    return members


def update_client(folder: ProgramFolder, trust: StoreTrust, version: str) -> ClientUpdate:
    """Install client ``version`` in the slot not running, check it starts, switch to it.
    Raises (and leaves the active slot as it was) if any step fails."""
    launch: Launch = folder.read()
    if newer_than_running(version, launch.active.version) is None:
        raise IntegrityFailure(
            f"the download program {version} is not newer than {launch.active.version}"
        )
    members = fetch_client(trust, version)
    slot = folder.other_slot()
    folder.stage(slot, members)
    folder.start_check(slot, version)
    folder.switch(slot, version)
    return ClientUpdate(launch.active.version, version, slot)


def hand_off(folder: ProgramFolder, argv: Sequence[str]) -> int:
    """Run ``argv`` again with the version now active; its exit status is the command's."""
    env = dict(os.environ, **{HANDED_OFF: __version__})
    return subprocess.run([*folder.command(sys.executable), *argv], env=env, check=False).returncode
