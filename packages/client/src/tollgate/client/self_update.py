"""The download program updating itself (DESIGN.md section 5, self-update).

An install list (or ``/v1/store``) only *names* the latest client version; what is installed are
the TUF targets of that release (protocol/client_release.py): the program's wheel, whose signed
``custom`` says it is that version, for which Python, and which wheels it needs, and for each
package the wheel this machine supports best, every one checked like every other target
(listed by the client role, its length and SHA-256 as signed). A wheel already fetched for the
running version is reused when its bytes are the signed ones, so an update fetches only what
changed. Only a newer version is taken, so a store cannot talk a customer back to an older
client. Then client/program.py installs the wheels in the other slot with ``pip --no-index``,
checks the program starts, and switches the launcher; `hand_off` gives the command being run
to the new version.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.tags import sys_tags
from packaging.version import InvalidVersion, Version
from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.api.metadata import TargetFile

from tollgate.client import __version__
from tollgate.client.errors import ClientError, IntegrityFailure
from tollgate.client.program import HANDED_OFF, Launch, ProgramFolder
from tollgate.client.trust import StoreTrust
from tollgate.files import exclusive, write_atomic
from tollgate.protocol.client_release import (
    DEPENDENCY_KIND,
    BadClientRelease,
    NoWheelForMachine,
    ProgramRelease,
    client_target,
    program_file_name,
    read_release,
    select_wheels,
)
from tollgate.wire.problems import Exit


class NotForThisMachine(ClientError):
    """The release cannot run here: no wheel for this platform, or another Python."""

    exit = Exit.USAGE


@dataclass(frozen=True)
class ClientUpdate:
    previous: str
    version: str
    slot: str
    fetched: int  # wheels downloaded; the others were already here

    def to_json(self) -> dict[str, object]:
        return {
            "from": self.previous,
            "to": self.version,
            "slot": self.slot,
            "fetched_wheels": self.fetched,
        }


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


def fetch_release(trust: StoreTrust, version: str) -> tuple[ProgramRelease, TargetFile]:
    """Release ``version`` as its signed program target describes it, for this Python."""
    info = trust.target(client_target(version, program_file_name(version)))
    try:
        release = read_release(info.custom, version)
    except BadClientRelease as exc:
        raise IntegrityFailure(f"{info.path}: {exc}") from exc
    if platform.python_version() not in SpecifierSet(release.requires_python):
        raise NotForThisMachine(
            f"the download program {version} needs Python {release.requires_python}; this is "
            f"{platform.python_version()}"
        )
    return release, info


def fetch_wheels(
    folder: ProgramFolder, trust: StoreTrust, release: ProgramRelease, program: TargetFile
) -> tuple[list[Path], int]:
    """The release's wheels for this machine in ``folder.wheels``, every byte as signed; how
    many had to be downloaded."""
    try:
        chosen = select_wheels(release, list(sys_tags()))
    except NoWheelForMachine as exc:
        raise NotForThisMachine(str(exc)) from exc
    wanted = [(program, None)] + [
        (trust.target(client_target(release.version, name)), p) for p, name in chosen.items()
    ]
    paths, fetched = [], 0
    for info, requirement in wanted:
        custom = info.custom if isinstance(info.custom, dict) else {}  # TUF leaves it unchecked
        if requirement is not None and (
            custom.get("kind"),
            custom.get("client"),
            custom.get("requirement"),
        ) != (DEPENDENCY_KIND, release.version, requirement):
            raise IntegrityFailure(f"{info.path} is not {requirement} of {release.version}")
        path = folder.wheels / info.path.rsplit("/", 1)[1]
        if not _already_here(path, info):
            write_atomic(path, trust.target_bytes(info))
            fetched += 1
        paths.append(path)
    return paths, fetched


def _already_here(path: Path, info: TargetFile) -> bool:
    try:
        info.verify_length_and_hashes(path.read_bytes())
    except (OSError, LengthOrHashMismatchError):
        return False
    return True


def update_client(folder: ProgramFolder, trust: StoreTrust, version: str) -> ClientUpdate:
    """Install client ``version`` in the slot not running, check it starts, switch to it.
    Raises (and leaves the active slot as it was) if any step fails. One update at a time per
    program folder (a lock file): two commands updating at once would each take the other's
    staging folder, or the slot the other just made active, for leftovers."""
    with exclusive(folder.update_lock):
        launch: Launch = folder.read()
        if launch.active.version == version and version != __version__:
            # another command updated while this one waited: nothing left but to hand over
            return ClientUpdate(__version__, version, launch.active.slot, 0)
        if newer_than_running(version, launch.active.version) is None:
            raise IntegrityFailure(
                f"the download program {version} is not newer than {launch.active.version}"
            )
        release, program = fetch_release(trust, version)
        wheels, fetched = fetch_wheels(folder, trust, release, program)
        slot = folder.other_slot()
        folder.install(slot, wheels)
        folder.start_check(slot, version)
        folder.switch(slot, version)
        folder.keep_wheels(wheels)
    return ClientUpdate(launch.active.version, version, slot, fetched)


def hand_off(folder: ProgramFolder, argv: Sequence[str]) -> int:
    """Run ``argv`` again with the version now active; its exit status is the command's."""
    env = dict(os.environ, **{HANDED_OFF: __version__})
    return subprocess.run([*folder.command(sys.executable), *argv], env=env, check=False).returncode
