"""Installing the download program the way a newcomer does (the bootstrap installer) and making
new releases of it, for the bootstrap and self-update tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.version import Version

from conftest import MACHINE_A, LiveStore
from wheels import ClientDist

CARD = ["--card", "4242424242424242", "--expiry", "12/34", "--cvc", "123"]
PERSON = ["--name", "Hanako", "--email", "hanako@example.jp", "--country", "JP"]


def said(done: subprocess.CompletedProcess[str]) -> str:
    """A command's stderr as one line (rich wraps at the terminal's width)."""
    return " ".join(done.stderr.split())


def installer_bytes(store: LiveStore) -> bytes:
    response = httpx.get(f"{store.url}/bootstrap/tollgate-setup.pyz")
    response.raise_for_status()
    return response.content


def environment(home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, TOLLGATE_MACHINE_ID=MACHINE_A)
    env.pop("TOLLGATE_HOME", None)
    if home is not None:
        env["TOLLGATE_HOME"] = str(home)
    return env


def run_installer(
    pyz: Path, *args: str, python: str = sys.executable, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(pyz), *args],
        env={**environment(), **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@dataclass(frozen=True)
class Installed:
    program: Path
    home: Path

    @property
    def launcher(self) -> Path:
        return self.program / "bin" / "tollgate"

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """The ``tollgate`` command as the customer types it: the launcher, started by its
        own first line (``env`` adds to its environment)."""
        return subprocess.run(
            [str(self.launcher), *args],
            env={**environment(self.home), **env},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def launch(self) -> dict[str, object]:
        doc: dict[str, object] = json.loads((self.program / "launcher.json").read_text())
        return doc

    def running_version(self) -> str:
        done = self.run("self-check", "--json")
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["version"])

    def slots(self) -> list[str]:
        return sorted(p.name for p in (self.program / "slots").iterdir())


def bootstrap(
    store: LiveStore,
    where: Path,
    *,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> Installed:
    """A newcomer: download the installer from the store, run it with ``python``, registered."""
    where.mkdir(parents=True, exist_ok=True)
    pyz = where / "tollgate-setup.pyz"
    pyz.write_bytes(installer_bytes(store))
    installed = Installed(where / "program", where / "home")
    done = run_installer(
        pyz,
        "--dir",
        str(installed.program),
        "--home",
        str(installed.home),
        *PERSON,
        *CARD,
        env=env,
        python=python,
    )
    assert done.returncode == 0, done.stderr
    return installed


def next_version(after: str, step: int = 1) -> str:
    v = Version(after)
    return f"{v.major}.{v.minor}.{v.micro + step}"


def publish_program(store: LiveStore, dist: ClientDist, program: Path | None = None) -> str:
    """Publish ``program`` (a wheel of the download program; this checkout's by default) with
    ``dist``'s wheelhouse and requirements; the version published."""
    row = store.ctx.publish_client(program or dist.program, dist.wheelhouse, dist.requirements)
    return row.version
