"""The download program's own folder: two slots and a launcher (the patent's download1 and
download2), so the program can replace itself without ever being half-replaced.

```
<program>/
  launcher.json            {"format": 1, "active": "download2", "version": "0.2.0",
                            "previous": {"slot": "download1", "version": "0.1.0"}}
  bin/tollgate             the launcher: runs the active slot's ``tollgate`` (never changes)
  slots/download1/         the program and everything it needs: ``pip install --target`` of
  slots/download2/         the release's wheels (tollgate/..., cryptography/..., *.dist-info)
  wheels/                  the wheels of the active release, as fetched and checked (reused by
                           the next update for what did not change)
  update.lock              held by the one update running
```

A new version is installed by pip, from the wheels fetched and checked, with no index
(``--no-index --no-deps``), into a temporary folder beside the slot that is not active, then
renamed into place, started once in a child process that must answer ``self-check`` with
the expected version from inside that slot, and only then made active by replacing
``launcher.json`` with ``os.replace``. A crash before that replace leaves the old version
active; a crash after it leaves the new one, already checked. There are never more than two
slots: the one not active holds the previous version (the fallback) until the next update
overwrites it.

Each slot holds its own dependencies, so an update can move them forward too (a new
``cryptography``, say) without touching the version that runs. This module is used by the
running client (self-update) and by the bootstrap installer, which runs it before anything but
the standard library is known to be importable: it imports only the standard library (and
``tollgate.files``, which does too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tollgate.client
from tollgate.files import fsync_dir, write_atomic

SLOTS = ("download1", "download2")
FORMAT = 1
CHECK_TIMEOUT = 120.0
HANDED_OFF = "TOLLGATE_HANDED_OFF_FROM"  # set for the new version a command is handed to

PIP_TIMEOUT = 600.0
# Runs ``tollgate`` from the slot folder given as its first argument.
_RUN_FROM = (
    "import sys; sys.path[0:0] = sys.argv[1:2]; del sys.argv[1:2]; "
    "from tollgate.cli.main import entrypoint; entrypoint()"
)

LAUNCHER = '''#!{python} -IS
"""Tollgate's launcher: runs the download program in the slot launcher.json names, on what that
slot holds and the standard library alone (-I -S: no site-packages, no user site, no PYTHON*
variables). Written once by the installer; updates change launcher.json, never this file."""
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(root, "launcher.json"), encoding="utf-8") as f:
    launch = json.load(f)
active = launch["active"]
if active not in {slots!r}:
    sys.exit("tollgate: launcher.json names no slot; run the installer again")
if launch.get("home") and not os.environ.get("TOLLGATE_HOME"):
    os.environ["TOLLGATE_HOME"] = launch["home"]
sys.path[0:0] = [os.path.join(root, "slots", active)]
from tollgate.cli.main import entrypoint

entrypoint()
'''


class ProgramError(Exception):
    """The program folder cannot be used as it is."""


class StartCheckFailed(ProgramError):
    """The new version did not start, or did not say it was the version expected."""


@dataclass(frozen=True)
class Installed:
    slot: str
    version: str


@dataclass(frozen=True)
class Launch:
    """What ``launcher.json`` says: the active slot, the previous version kept beside it, and
    the client folder the program was installed for (the installer's ``--home``; the
    launcher sets ``TOLLGATE_HOME`` to it unless that is set already)."""

    active: Installed
    previous: Installed | None
    home: str | None = None

    def to_json(self) -> dict[str, object]:
        def one(i: Installed | None) -> dict[str, str] | None:
            return None if i is None else {"slot": i.slot, "version": i.version}

        doc: dict[str, object] = {
            "format": FORMAT,
            "active": self.active.slot,
            "version": self.active.version,
            "previous": one(self.previous),
        }
        if self.home is not None:
            doc["home"] = self.home
        return doc


class ProgramFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.launch_file = root / "launcher.json"
        self.launcher = root / "bin" / "tollgate"
        self.slots = root / "slots"
        self.wheels = root / "wheels"
        self.update_lock = root / "update.lock"

    @classmethod
    def running(cls) -> ProgramFolder | None:
        """The folder this very process runs from, if it was started from a slot."""
        package = Path(tollgate.client.__file__).resolve().parent  # <slot>/tollgate/client
        slot = package.parent.parent
        root = slot.parent.parent
        if slot.name in SLOTS and slot.parent.name == "slots" and (root / "launcher.json").exists():
            return cls(root)
        return None

    def slot_dir(self, slot: str) -> Path:
        if slot not in SLOTS:
            raise ProgramError(f"no slot {slot!r}")
        return self.slots / slot

    def read(self) -> Launch:
        try:
            doc = json.loads(self.launch_file.read_text(encoding="utf-8"))
            previous = doc.get("previous")
            launch = Launch(
                Installed(str(doc["active"]), str(doc["version"])),
                None
                if previous is None
                else Installed(str(previous["slot"]), str(previous["version"])),
                None if doc.get("home") is None else str(doc["home"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProgramError(f"{self.launch_file} is unreadable: {exc}") from exc
        for installed in (launch.active, launch.previous):
            if installed is not None:
                self.slot_dir(installed.slot)
        return launch

    def other_slot(self) -> str:
        active = self.read().active.slot
        return next(s for s in SLOTS if s != active)

    def install(self, slot: str, wheels: list[Path], python: str = sys.executable) -> None:
        """Install ``wheels`` (fetched and checked: the whole release, dependencies too) as
        ``slot``'s new contents with ``python``'s pip, from those files alone: into a
        temporary folder first, which then replaces the slot."""
        target = self.slot_dir(slot)
        self.remove_leftovers()
        self.slots.mkdir(parents=True, exist_ok=True)
        incoming = Path(tempfile.mkdtemp(dir=self.slots, prefix=".incoming-"))
        try:
            pip_install(python, incoming, wheels)
            self.replace_slot(target, incoming)
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            raise

    def keep_wheels(self, wheels: list[Path]) -> None:
        """Forget the fetched wheels that are not ``wheels`` (those of the active release)."""
        keep = {w.name for w in wheels}
        for path in self.wheels.glob("*.whl") if self.wheels.is_dir() else []:
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def replace_slot(self, target: Path, incoming: Path) -> None:
        """Put the staged folder in the slot's place (the slot is not the active one)."""
        if target.exists():
            shutil.rmtree(target)
        os.replace(incoming, target)
        fsync_dir(self.slots)

    def remove_leftovers(self) -> None:
        """Temporary folders a crash left in ``slots/``."""
        if self.slots.is_dir():
            for leftover in self.slots.glob(".incoming-*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def start_check(self, slot: str, version: str, python: str = sys.executable) -> None:
        """Start the slot's program once: it must say it is ``version``, run from that slot."""
        slot_dir = self.slot_dir(slot)
        command = [python, "-IS", "-c", _RUN_FROM, str(slot_dir), "self-check"]
        try:
            done = subprocess.run(
                [*command, "--json"],
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
                check=False,
                env={k: v for k, v in os.environ.items() if k != HANDED_OFF},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StartCheckFailed(f"{version} in {slot} did not start: {exc}") from exc
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise StartCheckFailed(
                f"{version} in {slot} failed its start check (exit {done.returncode}): {last}"
            )
        try:
            answer = json.loads(done.stdout)
            said, where = str(answer["version"]), Path(answer["package"]).resolve()
        except (ValueError, KeyError, TypeError) as exc:
            raise StartCheckFailed(f"{version} in {slot} answered its start check oddly") from exc
        if said != version or not where.is_relative_to(slot_dir.resolve()):
            raise StartCheckFailed(
                f"the program in {slot} says it is {said} from {where}, not {version} from there"
            )

    def switch(self, slot: str, version: str, home: str | None = None) -> Launch:
        """Make ``slot`` (checked) the active one, atomically; the active one becomes previous.
        ``home`` is given at the first install; later switches keep the one recorded."""
        try:
            was = self.read()
            current: Installed | None = was.active
            home = was.home
        except ProgramError:
            current = None  # the first install
        launch = Launch(
            Installed(slot, version), current if current and current.slot != slot else None, home
        )
        write_atomic(self.launch_file, json.dumps(launch.to_json(), indent=2).encode() + b"\n")
        fsync_dir(self.root)
        return launch

    def write_launcher(self, python: str) -> None:
        """The launcher script, for ``python`` (written by the installer, once)."""
        text = LAUNCHER.format(python=python, slots=set(SLOTS))
        write_atomic(self.launcher, text.encode(), mode=0o755)
        if os.name == "nt":
            cmd = f'@"{python}" -IS "%~dp0tollgate" %*\r\n'
            write_atomic(self.launcher.with_suffix(".cmd"), cmd.encode(), mode=0o755)

    def command(self, python: str = sys.executable) -> list[str]:
        """How to start the active version from outside (the desktop handler, a hand-off)."""
        return [python, "-IS", str(self.launcher)]


def pip_install(python: str, target: Path, wheels: list[Path]) -> None:
    """``pip install`` exactly ``wheels`` into ``target``: no index, no dependency resolution
    (the release is the whole closure), no configuration or environment of the user's
    (``--isolated``), so nothing but these files is ever installed."""
    command = [python, "-I", "-m", "pip", "install", "--isolated", "--no-index", "--no-deps"]
    command += ["--disable-pip-version-check", "--no-cache-dir", "--quiet", "--target"]
    command += [str(target), *map(str, wheels)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProgramError(f"pip did not run: {exc}") from exc
    if done.returncode != 0 and "No module named pip" in done.stderr:
        raise ProgramError(
            f"{python} has no pip to install the download program with: install pip for it "
            "(Debian and Ubuntu: apt install python3-pip python3-venv) or use another Python"
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ProgramError(f"pip could not install the download program: {last}")
