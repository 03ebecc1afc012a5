"""The registration software (the patent's 431): ``tollgate-setup.pyz``, served at
``/bootstrap/tollgate-setup.pyz``. This file is its ``__main__.py``.

```
tollgate-setup.pyz
  __main__.py     this file
  setup.json      {"store_url", "store_id", "store_name", "root_sha256", "client_version",
                   "client_sha256", "requirements": {"cryptography==50.0.2": ["sha256:…"],
                   …}}: every package the program needs, dependencies of dependencies too
  root.json       the store's first TUF root, the one registration pins
  client.zip      the download program's archive: the TUF target client/<version>/…
  tollgate/...    the same package, unpacked, so this installer can use its modules
```

It installs the download program in its own folder (client/program.py: slot download1 and a
launcher), makes sure what the program needs is importable (checked in a child process; with
``--install-deps``, fetched by pip into the folder's ``lib/``, each pinned by version and by
hash: ``pip --require-hashes --no-deps``), registers the customer with the
store pinned to the embedded root, and sets up the desktop hand-off. Running it again on an
installed folder only registers. Exit status: 0 done; 2 usage; 3 something the program needs
is missing; 4 the installer is damaged; otherwise ``tollgate register``'s own.

Until the dependency check passes only the standard library is imported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

MIN_PYTHON = (3, 11)
SETUP_NAMES = ("setup.json", "root.json", "client.zip")


def default_program_dir() -> Path:
    """Where the download program lives unless ``--dir`` says otherwise."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "Tollgate" / "program"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Tollgate" / "program"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "tollgate" / "program"


def read_setup(pyz: Path) -> tuple[dict[str, Any], bytes, bytes]:
    """``setup.json``, ``root.json`` and ``client.zip`` from the installer's own archive."""
    try:
        with zipfile.ZipFile(pyz) as zf:
            setup, root, client = (zf.read(n) for n in SETUP_NAMES)
        doc = json.loads(setup)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SystemExit(_fail(f"this installer is damaged ({exc}); download it again", 4)) from exc
    if not isinstance(doc, dict):
        raise SystemExit(_fail("this installer's setup.json is damaged; download it again", 4))
    if hashlib.sha256(root).hexdigest() != doc.get("root_sha256"):
        raise SystemExit(_fail("this installer's root.json is not the one it names", 4))
    if hashlib.sha256(client).hexdigest() != doc.get("client_sha256"):
        raise SystemExit(_fail("this installer's download program is not the one it names", 4))
    return doc, root, client


def missing_requirements(python: str, lib: Path, requirements: list[str]) -> list[str]:
    """The pinned requirements ``python`` cannot find (with ``lib`` first on its path)."""
    names = [r.split("==")[0].split("[")[0] for r in requirements]
    probe = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "missing = []\n"
        "for name in json.loads(sys.argv[2]):\n"
        "    try:\n"
        "        metadata.version(name)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        missing.append(name)\n"
        "print(json.dumps(missing))\n"
    )
    done = subprocess.run(
        [python, "-I", "-c", probe, str(lib), json.dumps(names)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(_fail(f"{python} could not be asked what it has: {done.stderr}", 3))
    missing = set(json.loads(done.stdout))
    return [r for r, n in zip(requirements, names, strict=True) if n in missing]


def install_requirements(
    python: str, lib: Path, requirements: list[str], hashes: dict[str, list[str]]
) -> None:
    """pip, into the program's own ``lib/``, from the package index: the one download TUF does
    not cover, so each package is pinned by version and by the hashes the store's lock records
    (``--require-hashes``; ``--no-deps``, as ``requirements`` is the whole closure)."""
    unhashed = [r for r in requirements if not hashes.get(r)]
    if unhashed:
        raise SystemExit(_fail(f"this installer names no hash for {', '.join(unhashed)}", 4))
    lib.mkdir(parents=True, exist_ok=True)
    pinned = lib.parent / "requirements.txt"
    pinned.write_text(
        "".join(f"{r} {' '.join(f'--hash={h}' for h in hashes[r])}\n" for r in requirements)
    )
    command = [python, "-m", "pip", "install", "--require-hashes", "--no-deps"]
    command += ["--target", str(lib), "-r", str(pinned)]
    print(f"installing {len(requirements)} package(s) into {lib} with pip", flush=True)
    if subprocess.run(command, check=False).returncode != 0:
        raise SystemExit(_fail("pip could not install what the download program needs", 3))


def install_program(program_dir: Path, client: bytes, python: str) -> str:
    """The download program in ``program_dir``; its version. Nothing changes if that version
    (or a newer one) is already active there."""
    from tollgate.client.program import ProgramError, ProgramFolder
    from tollgate.wire.client_archive import BadClientArchive, archive_version, read_archive

    folder = ProgramFolder(program_dir)
    try:
        members = read_archive(client)
        version = archive_version(members)
    except BadClientArchive as exc:
        raise SystemExit(_fail(f"this installer's download program is damaged: {exc}", 4)) from exc
    if folder.launch_file.exists():
        active = folder.read().active.version
        print(f"the download program {active} is already installed in {program_dir}")
        return active
    try:
        folder.write_launcher(python)
        folder.stage("download1", members)
        folder.start_check("download1", version, python)
        folder.switch("download1", version)
    except ProgramError as exc:
        raise SystemExit(_fail(f"the download program did not install: {exc}", 4)) from exc
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
    parser.add_argument(
        "--install-deps",
        action="store_true",
        help="Fetch missing packages with pip into the program folder (needs the internet).",
    )
    parser.add_argument("--no-register", action="store_true", help="Install only; register later.")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    from tollgate.wire.text import clean  # standard library only, like this file

    if sys.version_info < MIN_PYTHON:
        return _fail(f"the download program needs Python {'.'.join(map(str, MIN_PYTHON))}+", 3)
    args, register_args = _arguments(sys.argv[1:] if argv is None else argv)
    pyz = Path(__file__).resolve().parent
    setup, _root, client = read_setup(pyz)
    program_dir = (args.dir or default_program_dir()).resolve()
    python = sys.executable
    store = f"{setup['store_name']} at {setup['store_url']} ({setup['store_id']})"
    print(f"Store: {clean(store)}")  # the vendor's words: shown as text
    print(f"Store root fingerprint (SHA-256): {setup['root_sha256']}")
    lib = program_dir / "lib"
    missing = missing_requirements(python, lib, list(setup["requirements"]))
    if missing and not args.install_deps:
        return _fail(
            f"{python} lacks what the download program needs: {', '.join(missing)}. Run this "
            "installer again with --install-deps to fetch them into the program folder, or "
            "install them into this Python yourself",
            3,
        )
    if missing:
        install_requirements(python, lib, missing, dict(setup["requirements"]))
    sys.path[1:1] = [str(lib)]  # after the installer's own archive, as the launcher has it
    version = install_program(program_dir, client, python)
    launcher = program_dir / "bin" / "tollgate"
    print(f"Installed the download program {version} in {program_dir}")
    if args.no_register:
        return 0
    home = ["--home", str(args.home)] if args.home else []
    command = [python, "-I", str(launcher), *home, "register", setup["store_url"]]
    command += ["--trust", setup["root_sha256"], *register_args]
    status = subprocess.run(command, check=False).returncode
    if status == 0:
        print(f"Done. The command is {launcher}; add {launcher.parent} to your PATH to type it.")
    return status


if __name__ == "__main__":
    sys.exit(main())
