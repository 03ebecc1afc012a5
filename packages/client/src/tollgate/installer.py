"""The registration software (the patent's 431): ``tollgate-setup.pyz``, served at
``/bootstrap/tollgate-setup.pyz``. This file is its ``__main__.py``.

```
tollgate-setup.pyz
  __main__.py     this file
  setup.json      {"store_url", "store_id", "store_name", "root_sha256", "client_version",
                   "release": the signed ``custom`` of the program's TUF target (its pins and
                   the wheels published for each, protocol/client_release.py),
                   "files": {"<wheel file name>": {"sha256": "…", "length": N}, …}}
  root.json       the store's first TUF root, the one registration pins
  tollgate/...    the program's and the runtime's modules, unpacked, so this installer can use
  packaging/...   them, and ``packaging`` (pure Python) to match wheels to this machine
```

It picks, for every package the download program needs, the wheel this machine supports best
(``packaging.tags``), fetches each from the store (``/v1/targets/client/…``, the TUF targets
of the client role), checks its length and SHA-256 against ``files`` — the signed targets'
own, copied when the store built this installer, so as trusted as this very code, whose
SHA-256 the bootstrap page shows — and installs them with ``pip --no-index --no-deps`` into
its own folder (client/program.py: slot download1 and a launcher). No package index is
contacted. Then it registers the customer with the store pinned to the embedded root, and sets
up the desktop hand-off. Every later update is checked by TUF from that root. Running it again
on an installed folder only registers. Exit status, as ``tollgate``'s: 0 done; 2 usage, or
this machine cannot run the program (Python, pip, no wheel published for it); 4 the installer or
a download is damaged; 5 the store cannot be reached; otherwise ``tollgate register``'s own.

Until the program is installed only the standard library and the modules unpacked here are
imported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Any

MIN_PYTHON = (3, 11)
SETUP_NAMES = ("setup.json", "root.json")
FETCH_TIMEOUT = 60.0
MAX_SETUP_MEMBER = 16 * 1024 * 1024  # setup.json and root.json are kilobytes
# Everything zipfile and json raise for a damaged archive: a short read, corrupt deflate or
# LZMA data, a password (RuntimeError) or an unknown method (NotImplementedError, a
# RuntimeError too), an offset before the start ("negative seek value", a ValueError), JSON
# nested past the recursion limit (RecursionError, also a RuntimeError).
_DAMAGED = (
    OSError,
    KeyError,
    ValueError,
    EOFError,
    RuntimeError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
)


def default_program_dir() -> Path:
    """Where the download program lives unless ``--dir`` says otherwise."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "Tollgate" / "program"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Tollgate" / "program"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "tollgate" / "program"


def read_setup(pyz: Path) -> tuple[dict[str, Any], bytes]:
    """``setup.json`` and ``root.json`` from the installer's own archive; any damage is exit 4
    with a message, never a traceback."""
    try:
        with zipfile.ZipFile(pyz) as zf:
            setup, root = (_member(zf, n) for n in SETUP_NAMES)
        doc = json.loads(setup)
    except _DAMAGED as exc:
        raise SystemExit(_fail(f"this installer is damaged ({exc}); download it again", 4)) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
        raise SystemExit(_fail("this installer's setup.json is damaged; download it again", 4))
    if hashlib.sha256(root).hexdigest() != doc.get("root_sha256"):
        raise SystemExit(_fail("this installer's root.json is not the one it names", 4))
    return doc, root


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    """One member's bytes, at most ``MAX_SETUP_MEMBER`` whatever its header claims."""
    with zf.open(name) as member:
        data = member.read(MAX_SETUP_MEMBER + 1)
    if len(data) > MAX_SETUP_MEMBER:
        raise ValueError(f"{name} is larger than {MAX_SETUP_MEMBER} bytes")
    return data


def wheels_for_machine(setup: dict[str, Any]) -> list[str]:
    """The file names of the wheels to install here: the program's, and for each package it
    needs the wheel this machine supports best."""
    from packaging.specifiers import SpecifierSet
    from packaging.tags import sys_tags

    from tollgate.protocol.client_release import (
        BadClientRelease,
        NoWheelForMachine,
        read_release,
        select_wheels,
    )

    version = str(setup.get("client_version"))
    try:
        release = read_release(setup.get("release") or {}, version)
        chosen = select_wheels(release, list(sys_tags()))
    except BadClientRelease as exc:
        status = 2 if isinstance(exc, NoWheelForMachine) else 4
        raise SystemExit(_fail(str(exc), status)) from exc
    running = ".".join(map(str, sys.version_info[:3]))
    if running not in SpecifierSet(release.requires_python):
        raise SystemExit(
            _fail(
                f"the download program needs Python {release.requires_python}; this is {running}", 2
            )
        )
    return [release.program_file, *sorted(chosen.values())]


def fetch_wheels(setup: dict[str, Any], names: list[str], into: Path) -> list[Path]:
    """Each wheel from the store (or from ``into``, where an earlier run left it), its length
    and SHA-256 checked against ``files``; written to ``into`` under its own name."""
    into.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = setup["files"]
    paths = []
    total = sum(int(files.get(n, {}).get("length", 0)) for n in names)
    print(f"fetching {len(names)} wheel(s), {total / 1e6:.1f} MB, from the store", flush=True)
    for name in names:
        expected = files.get(name)
        if not isinstance(expected, dict) or "/" in name or name.startswith("."):
            raise SystemExit(_fail(f"this installer names {name!r} oddly; download it again", 4))
        path = into / name
        if not (path.is_file() and _matches(path.read_bytes(), expected)):
            data = _download(setup, name, expected)
            partial = path.with_name(f".{name}.part")
            partial.write_bytes(data)
            os.replace(partial, path)
        paths.append(path)
    return paths


def _matches(data: bytes, expected: dict[str, Any]) -> bool:
    return len(data) == expected.get("length") and (
        hashlib.sha256(data).hexdigest() == expected.get("sha256")
    )


def _download(setup: dict[str, Any], name: str, expected: dict[str, Any]) -> bytes:
    url = (
        f"{setup['store_url']}/v1/targets/client/{setup['client_version']}/"
        f"{expected['sha256']}.{name}"
    )
    length = int(expected["length"])
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
            data = bytes(response.read(length + 1))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise SystemExit(
                _fail(
                    f"the store no longer offers {name} as this installer names it (a newer "
                    "download program is out?): download the installer again",
                    4,
                )
            ) from exc
        raise SystemExit(_fail(f"the store answered {exc.code} for {name}; try again", 5)) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(_fail(f"cannot fetch {name} from the store: {exc}", 5)) from exc
    if not _matches(data, expected):
        raise SystemExit(
            _fail(
                f"{name} from the store is not the file this installer names (length or "
                "SHA-256); nothing was installed",
                4,
            )
        )
    return data


def install_program(
    program_dir: Path, wheels: list[Path], version: str, python: str, home: Path | None
) -> str:
    """The download program in ``program_dir``, for the client folder ``home`` (the default
    one if None); its version. Nothing changes if a version is already active there."""
    from tollgate.client.program import ProgramError, ProgramFolder

    folder = ProgramFolder(program_dir)
    if folder.launch_file.exists():
        active = folder.read().active.version
        print(f"the download program {active} is already installed in {program_dir}")
        return active
    try:
        folder.write_launcher(python)
        folder.install("download1", wheels, python)
        folder.start_check("download1", version, python)
        folder.switch("download1", version, None if home is None else str(home.resolve()))
    except ProgramError as exc:
        raise SystemExit(_fail(f"the download program did not install: {exc}", 2)) from exc
    return version


def _fail(message: str, status: int) -> int:
    print(f"tollgate-setup: error: {message}", file=sys.stderr)
    return status


def _arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="tollgate-setup.pyz",
        description="Install the Tollgate download program and register with the store. Other "
        "options (--name, --email, --country, --card, --expiry, --cvc, --password, --bind, "
        "--no-handler) go to `tollgate register`; it asks for what is not given.",
    )
    parser.add_argument("--dir", type=Path, help="Where to install the program.")
    parser.add_argument("--home", type=Path, help="The client's folder (keys, state).")
    parser.add_argument("--no-register", action="store_true", help="Install only; register later.")
    return parser.parse_known_args(argv)


def isolated(pyz: Path, argv: list[str]) -> None:
    """Run this installer again isolated (``-I -S``) unless it already is: otherwise a
    ``tollgate`` package in the Python's site-packages, its user site or ``PYTHONPATH`` (or a
    ``.pth`` file there) would be imported instead of the modules this archive carries, and
    their checks would count for nothing."""
    if sys.flags.isolated and sys.flags.no_site:
        return
    command = [sys.executable, "-IS", str(pyz), *argv]
    if os.name == "nt":  # no exec there: a child, whose status is ours
        raise SystemExit(subprocess.run(command, check=False).returncode)
    os.execv(sys.executable, command)  # noqa: S606 - this very installer, isolated


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < MIN_PYTHON:
        return _fail(f"the download program needs Python {'.'.join(map(str, MIN_PYTHON))}+", 2)
    pyz = Path(__file__).resolve().parent
    arguments = sys.argv[1:] if argv is None else argv
    isolated(pyz, arguments)
    from tollgate.wire.text import clean  # standard library only, like this file

    args, register_args = _arguments(arguments)
    setup, _root = read_setup(pyz)
    program_dir = (args.dir or default_program_dir()).resolve()
    python = sys.executable
    store = f"{setup['store_name']} at {setup['store_url']} ({setup['store_id']})"
    print(f"Store: {clean(store)}")  # the vendor's words: shown as text
    print(f"Store root fingerprint (SHA-256): {setup['root_sha256']}")
    if not (program_dir / "launcher.json").exists():
        wheels = fetch_wheels(setup, wheels_for_machine(setup), program_dir / "wheels")
    else:
        wheels = []
    version = install_program(program_dir, wheels, str(setup["client_version"]), python, args.home)
    launcher = program_dir / "bin" / "tollgate"
    print(f"Installed the download program {version} in {program_dir}")
    if args.no_register:
        return 0
    home = ["--home", str(args.home)] if args.home else []
    command = [python, "-IS", str(launcher), *home, "register", setup["store_url"]]
    command += ["--trust", setup["root_sha256"], *register_args]
    status = subprocess.run(command, check=False).returncode
    if status == 0:
        print(f"Done. The command is {launcher}; add {launcher.parent} to your PATH to type it.")
    return status


if __name__ == "__main__":
    sys.exit(main())
