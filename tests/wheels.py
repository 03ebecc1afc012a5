"""The project's wheels, built from this checkout for the tests, and the wheelhouse `make dist`
downloads (every third-party wheel the three distributions need on this machine, each checked
against the lock's hashes). Tests install from these with no package index."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tollgate.client import __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
WHEELHOUSE = ROOT / "dist" / "wheelhouse"
PINS = ROOT / "tools" / "pins.py"
LOCK = ROOT / "requirements.lock"


def build_wheel(source: Path, into: Path) -> Path:
    """``pip wheel`` of the distribution at ``source`` (no index, no isolation: the build
    backend is the development environment's)."""
    into.mkdir(parents=True, exist_ok=True)
    before = set(into.glob("*.whl"))
    shutil.rmtree(source / "build", ignore_errors=True)  # setuptools keeps stale files there
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*command, "--no-index", "-w", str(into), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shutil.rmtree(source / "build", ignore_errors=True)
    for leftover in (source / "src").glob("*.egg-info"):  # or metadata would be found twice
        shutil.rmtree(leftover)
    (built,) = set(into.glob("*.whl")) - before
    return built


def third_party_wheels() -> list[Path]:
    wheels = sorted(p for p in WHEELHOUSE.glob("*.whl") if not p.name.startswith("tollgate"))
    if not wheels:
        raise RuntimeError(f"{WHEELHOUSE} holds no wheels: run `make dist` (it downloads them)")
    return wheels


@dataclass(frozen=True)
class ClientDist:
    """What a vendor hands ``tollgate store publish-client``: the program's wheel, a wheelhouse
    (the runtime's wheel and every third-party wheel) and the pinned requirements."""

    program: Path
    wheelhouse: Path
    requirements: Path

    @property
    def version(self) -> str:
        return self.program.name.split("-")[1]


def client_dist(where: Path) -> ClientDist:
    """This checkout's download program, as ``make dist`` makes it."""
    wheelhouse = where / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    for wheel in third_party_wheels():
        shutil.copy2(wheel, wheelhouse / wheel.name)
    build_wheel(PACKAGES / "runtime", wheelhouse)
    program = build_wheel(PACKAGES / "client", where)
    requirements = where / "client-requirements.txt"
    done = subprocess.run(
        [sys.executable, str(PINS), "tollgate", "--lock", str(LOCK), "--wheels", str(wheelhouse)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    requirements.write_text(done.stdout)
    return ClientDist(program, wheelhouse, requirements)


def program_wheel(
    where: Path,
    version: str,
    *,
    broken: bool = False,
    requires: tuple[str, ...] = (),
) -> Path:
    """The download program from this checkout as ``version``: ``broken``, it cannot start (its
    command module fails on import) though nothing about its wheel is wrong; ``requires`` adds
    dependencies to its metadata."""
    source = where / f"client-{version}"
    shutil.copytree(
        PACKAGES / "client",
        source,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    init = source / "src" / "tollgate" / "client" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{__version__}"', f'"{version}"'))
    if broken:
        main = source / "src" / "tollgate" / "cli" / "main.py"
        main.write_text(main.read_text() + '\nraise RuntimeError("this build is broken")\n')
    if requires:
        project = source / "pyproject.toml"
        extra = "".join(f'    "{r}",\n' for r in requires)
        project.write_text(
            project.read_text().replace("dependencies = [\n", "dependencies = [\n" + extra)
        )
    return build_wheel(source, where / "wheels")


def pure_wheel(where: Path, name: str, version: str, *, body: bytes = b"VALUE = 1\n") -> Path:
    """A pure-Python wheel made by hand, as a package index would serve it."""
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": body,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{n},,\n" for n in [*files, f"{dist}/RECORD"]).encode()
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in files.items():
            zf.writestr(n, data)
    return path


def windows_only(dist: ClientDist, where: Path, package: str = "zstandard") -> ClientDist:
    """``dist`` with ``package`` published for Windows only (a wheel made by hand, tagged
    win_amd64): a Linux machine has no wheel of it to install. Windows supported, typer needs
    colorama there, so it is added too."""
    house = where / "wheelhouse"
    shutil.copytree(dist.wheelhouse, house)
    (native,) = house.glob(f"{package}-*.whl")
    version = native.name.split("-")[1]
    native.unlink()
    made = pure_wheel(where / "made", package, version)
    made.rename(house / f"{package}-{version}-cp311-cp311-win_amd64.whl")
    pure_wheel(house, "colorama", "0.4.6")
    requirements = where / "requirements.txt"
    lines = [
        f"{package}=={version}" if line.startswith(f"{package}==") else line
        for line in dist.requirements.read_text().splitlines()
    ]
    requirements.write_text("\n".join([*lines, "colorama==0.4.6"]) + "\n")
    return ClientDist(dist.program, house, requirements)
