"""The download program as a release: its wheel and the wheel of every dependency, each a TUF
target, so installing or updating the program contacts no package index.

```
client/<version>/tollgate-<version>-py3-none-any.whl          the program (custom: the release)
client/<version>/tollgate_runtime-<version>-py3-none-any.whl  a dependency (custom: its pin)
client/<version>/cryptography-46.0.3-cp311-abi3-manylinux_2_34_x86_64.whl
client/<version>/cryptography-46.0.3-cp311-abi3-win_amd64.whl  ...one per platform published
```

``custom`` of the program's target is the release as a whole::

    {"kind": "client", "version": "0.2.0", "requires_python": ">=3.11",
     "requirements": {"cryptography==46.0.3": ["cryptography-46.0.3-cp311-abi3-….whl", …],
                      "tollgate-runtime==0.2.0": ["tollgate_runtime-0.2.0-py3-none-any.whl"], …}}

``requirements`` is the whole closure (dependencies of dependencies too), each pin with the
wheels published for it; a machine takes, for every pin, the wheel whose tags it supports best
(`select_wheels`, by ``packaging.tags``), and installs them all with ``pip --no-index
--no-deps``. A pin with no wheel for the machine is named, not guessed at.

Only the latest release is listed by the client role, as for products, so an older program is
no longer a target and cannot be offered again. Reading here is pure (bytes in, values out),
and raises only `BadClientRelease` whatever the bytes: a wheel's members must be stored or
deflated and not encrypted (what wheel builders write); corrupt data, impossible offsets and
oversized fields (a version of more than 64 characters) are refused by name.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import PurePosixPath
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

PROGRAM = "tollgate"
CLIENT_KIND = "client"
DEPENDENCY_KIND = "client-dependency"
MAX_WHEEL = 64 * 1024 * 1024
MAX_WHEELS = 1_000
MAX_METADATA = 1024 * 1024
MAX_UNPACKED = 512 * 1024 * 1024  # one wheel's files, unpacked
_PIN = re.compile(r"([a-z0-9]+(?:-[a-z0-9]+)*)==([A-Za-z0-9.+!_-]{1,64})")
_FILE = re.compile(r"[A-Za-z0-9._+!-]{1,200}\.whl")
_HASH_OPTION = re.compile(r"--hash[= ](sha256:[0-9a-f]{64})")
MAX_REQUIRES_PYTHON = 200
# What zipfile raises for a damaged archive beyond BadZipFile: a short read, corrupt deflate or
# LZMA data, an offset before the start of the file ("negative seek value"), a version it does
# not read ("zip file version 25.5", NotImplementedError, from the constructor itself).
_ZIP_ERRORS = (
    NotImplementedError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    ValueError,
)
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_REQUIREMENT_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)\s*(?:;.*)?")


class BadClientRelease(ValueError):
    """Not a download-program release this format allows."""


class NoWheelForMachine(BadClientRelease):
    """The release has no wheel this machine can install for some of its pins."""

    def __init__(self, version: str, missing: Sequence[str], tag: str) -> None:
        self.missing = list(missing)
        super().__init__(
            f"the store published no wheel of {', '.join(self.missing)} for this machine "
            f"(best tag {tag}) in the download program {version}; ask the vendor to publish "
            "one for this platform"
        )


def client_target(version: str, file_name: str) -> str:
    return f"client/{version}/{file_name}"


def pin(name: str, version: str) -> str:
    """``name==version``, the name canonical: how a release names one dependency."""
    return f"{canonicalize_name(name)}=={version}"


@dataclass(frozen=True)
class Wheel:
    """A wheel's bytes and what its file name and metadata say."""

    file_name: str
    data: bytes
    name: NormalizedName
    version: str
    tags: frozenset[Tag]
    requires_dist: tuple[str, ...]
    requires_python: str | None

    @property
    def pin(self) -> str:
        return pin(self.name, self.version)

    def member_digests(self) -> Iterator[tuple[str, str]]:
        """(name, SHA-256 hex) of every file inside the wheel, read in blocks, at most
        `MAX_UNPACKED` bytes in all (for the store's check that no key is published)."""
        left = MAX_UNPACKED
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                for info in zf.infolist():
                    _check_member(self.file_name, info)
                    if info.is_dir():
                        continue
                    digest = hashlib.sha256()
                    with zf.open(info) as member:
                        while block := member.read(1 << 20):
                            left -= len(block)
                            if left < 0:
                                raise BadClientRelease(
                                    f"{self.file_name} unpacks to more than {MAX_UNPACKED} bytes"
                                )
                            digest.update(block)
                    yield info.filename, digest.hexdigest()
        except BadClientRelease:
            raise
        except _ZIP_ERRORS as exc:
            raise BadClientRelease(f"{self.file_name} is not a readable wheel: {exc}") from exc


def _check_member(file_name: str, info: zipfile.ZipInfo) -> None:
    """A member zipfile can read without a password or a codec wheels never use (zipfile
    raises RuntimeError and NotImplementedError for those), with a name (``is_dir`` raises
    IndexError for an empty one)."""
    if not info.filename:
        raise BadClientRelease(f"{file_name} holds a member with no name")
    if info.flag_bits & 0x1:
        raise BadClientRelease(f"{file_name}: {info.filename[:100]!r} is encrypted")
    if info.compress_type not in _COMPRESSIONS:
        raise BadClientRelease(
            f"{file_name}: {info.filename[:100]!r} uses zip compression method "
            f"{info.compress_type}; a wheel's members are stored or deflated"
        )


def read_wheel(file_name: str, data: bytes) -> Wheel:
    """Check a wheel's file name and zip, and read its ``METADATA``: its name and version must
    be those of the file name."""
    if _FILE.fullmatch(file_name) is None:
        raise BadClientRelease(f"{file_name!r} is not a wheel file name")
    if len(data) > MAX_WHEEL:
        raise BadClientRelease(f"{file_name} is larger than {MAX_WHEEL} bytes")
    try:
        name, version, _build, tags = parse_wheel_filename(file_name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        raise BadClientRelease(f"{file_name} is not a wheel file name: {exc}") from exc
    if _PIN.fullmatch(pin(name, str(version))) is None:
        raise BadClientRelease(f"{file_name} names a package or version this format refuses")
    metadata = _metadata(file_name, data)
    said = (canonicalize_name(str(metadata.get("Name", ""))), str(metadata.get("Version", "")))
    if len(said[0]) > 200 or len(said[1]) > 64:
        raise BadClientRelease(f"{file_name}'s METADATA names a package or version too long")
    try:
        if said[0] != name or Version(said[1]) != version:
            raise BadClientRelease(f"{file_name} holds {said[0]} {said[1]}, not what it is named")
    except InvalidVersion as exc:
        raise BadClientRelease(f"{file_name} has no usable version in its METADATA") from exc
    requires_python = metadata.get("Requires-Python")
    return Wheel(
        file_name,
        data,
        name,
        str(version),
        frozenset(tags),
        tuple(str(r) for r in metadata.get_all("Requires-Dist") or ()),
        None if requires_python is None else str(requires_python),
    )


def _metadata(file_name: str, data: bytes) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [
                n
                for n in zf.namelist()
                if PurePosixPath(n).name == "METADATA"
                and len(PurePosixPath(n).parts) == 2
                and n.split("/")[0].endswith(".dist-info")
            ]
            if len(names) != 1:
                raise BadClientRelease(f"{file_name} has no single .dist-info/METADATA")
            info = zf.getinfo(names[0])
            if info.file_size > MAX_METADATA:
                raise BadClientRelease(f"{file_name}'s METADATA is too large")
            _check_member(file_name, info)
            with zf.open(info) as member:  # what the header claims may be a lie: read no more
                raw = member.read(MAX_METADATA + 1)
            if len(raw) > MAX_METADATA:
                raise BadClientRelease(f"{file_name}'s METADATA is too large")
            text = raw.decode("utf-8")
    except BadClientRelease:
        raise
    except UnicodeDecodeError as exc:
        raise BadClientRelease(f"{file_name}'s METADATA is not UTF-8: {exc}") from exc
    except _ZIP_ERRORS as exc:
        raise BadClientRelease(f"{file_name} is not a readable wheel: {exc}") from exc
    return HeaderParser().parsestr(text)


@dataclass(frozen=True)
class ProgramRelease:
    """A release as its TUF target's ``custom`` describes it."""

    version: str
    requires_python: str
    requirements: Mapping[str, tuple[str, ...]]  # pin -> wheel file names

    def to_custom(self) -> dict[str, Any]:
        return {
            "kind": CLIENT_KIND,
            "version": self.version,
            "requires_python": self.requires_python,
            "requirements": {p: list(files) for p, files in sorted(self.requirements.items())},
        }

    @property
    def program_file(self) -> str:
        return program_file_name(self.version)

    def paths(self) -> list[str]:
        """Every target of the release, the program's first."""
        files = {f for names in self.requirements.values() for f in names}
        return [client_target(self.version, self.program_file)] + [
            client_target(self.version, f) for f in sorted(files)
        ]


def program_file_name(version: str) -> str:
    return f"{PROGRAM}-{version}-py3-none-any.whl"


def read_release(custom: Mapping[str, Any], version: str) -> ProgramRelease:
    """The release ``custom`` describes, which must be the download program ``version``."""
    if not isinstance(custom, Mapping):
        raise BadClientRelease(f"the target of the download program {version} is not an object")
    if (custom.get("kind"), custom.get("version")) != (CLIENT_KIND, version):
        raise BadClientRelease(f"the target is not the download program {version}")
    requires_python = custom.get("requires_python")
    requirements = custom.get("requirements")
    if (
        not isinstance(requires_python, str)
        or len(requires_python) > MAX_REQUIRES_PYTHON
        or not isinstance(requirements, dict)
    ):
        raise BadClientRelease(f"the download program {version} is described oddly")
    try:
        SpecifierSet(requires_python)
    except InvalidSpecifier as exc:
        raise BadClientRelease(f"{version} names no usable Python requirement") from exc
    if len(requirements) > MAX_WHEELS:
        raise BadClientRelease(f"{version} names more than {MAX_WHEELS} requirements")
    pins: dict[str, tuple[str, ...]] = {}
    for p, files in requirements.items():
        if (
            not isinstance(p, str)
            or _PIN.fullmatch(p) is None
            or not isinstance(files, list)
            or not 0 < len(files) <= MAX_WHEELS
            or not all(isinstance(f, str) and _FILE.fullmatch(f) for f in files)
        ):
            raise BadClientRelease(f"{version} names a requirement oddly: {p!r}")
        pins[p] = tuple(files)
    return ProgramRelease(version, requires_python, pins)


def select_wheels(release: ProgramRelease, machine_tags: Sequence[Tag]) -> dict[str, str]:
    """For each pin, the wheel this machine supports best (``machine_tags`` is
    ``packaging.tags.sys_tags()``, most preferred first); `NoWheelForMachine` names any pin
    with none."""
    rank = {tag: i for i, tag in enumerate(machine_tags)}
    chosen: dict[str, str] = {}
    missing = []
    for p, files in sorted(release.requirements.items()):
        scored = []
        for f in files:
            try:
                tags = parse_wheel_filename(f)[3]
            except (InvalidWheelFilename, InvalidVersion):
                continue
            best = min((rank[t] for t in tags if t in rank), default=None)
            if best is not None:
                scored.append((best, f))
        if scored:
            chosen[p] = min(scored)[1]
        else:
            missing.append(p)
    if missing:
        first = str(machine_tags[0]) if machine_tags else "none"
        raise NoWheelForMachine(release.version, missing, first)
    return chosen


def assemble(
    program: Wheel, wheelhouse: Iterable[Wheel], pinned: Mapping[str, Sequence[str]] | None
) -> ProgramRelease:
    """The release made of ``program`` and the wheels of ``wheelhouse``.

    ``pinned`` (from a requirements file: pin -> allowed ``sha256:…`` hashes, perhaps none)
    says exactly which packages the release holds: every pin must have a wheel, each with one
    of its hashes where hashes are given. Either way the release holds only what the program
    needs, transitively (`_closure`), one version of each package; every such dependency must
    be there: a release that cannot install is refused here, not on customers' machines. The
    other wheels of the wheelhouse (the store's own, say) are left out."""
    if program.name != PROGRAM or program.file_name != program_file_name(program.version):
        raise BadClientRelease(
            f"{program.file_name} is not the download program's wheel "
            f"({program_file_name(program.version)}, pure Python)"
        )
    by_pin: dict[str, list[Wheel]] = {}
    for wheel in wheelhouse:
        if wheel.name == PROGRAM:
            continue  # the program itself, beside its dependencies as `pip download` puts it
        by_pin.setdefault(wheel.pin, []).append(wheel)
    if pinned is not None:
        by_pin = _only_pinned(by_pin, pinned)
    needed = _closure(program, by_pin)
    release = ProgramRelease(
        program.version,
        program.requires_python or ">=3.11",
        {p: tuple(sorted(w.file_name for w in by_pin[p])) for p in sorted(needed)},
    )
    if sum(len(f) for f in release.requirements.values()) > MAX_WHEELS:
        raise BadClientRelease(f"a release holds at most {MAX_WHEELS} wheels")
    return read_release(release.to_custom(), release.version)  # what is signed reads back


def _only_pinned(
    by_pin: Mapping[str, list[Wheel]], pinned: Mapping[str, Sequence[str]]
) -> dict[str, list[Wheel]]:
    """The wheels of ``by_pin`` that ``pinned`` names (a wheelhouse may hold more: the
    store's own, say), each with one of its pin's hashes where the pin gives hashes."""
    lacking = sorted(set(pinned) - set(by_pin))
    if lacking:
        raise BadClientRelease(f"the wheelhouse has no wheel for {', '.join(lacking)}")
    kept: dict[str, list[Wheel]] = {}
    for p, allowed in pinned.items():
        for wheel in by_pin[p]:
            digest = "sha256:" + hashlib.sha256(wheel.data).hexdigest()
            if allowed and digest not in allowed:
                raise BadClientRelease(f"{wheel.file_name} is not a wheel the requirements allow")
            kept.setdefault(p, []).append(wheel)
    return kept


def _closure(program: Wheel, by_pin: Mapping[str, list[Wheel]]) -> set[str]:
    """The pins ``program`` needs, transitively, checking every wheel of each: a requirement
    counts when its marker holds on this machine or on any platform the wheelhouse has wheels
    for (a Windows wheel of anything: Windows-only dependencies are needed too)."""
    versions: dict[str, set[str]] = {}
    for p in by_pin:
        name, version = p.split("==")
        versions.setdefault(name, set()).add(version)
    environments = _environments([w for wheels in by_pin.values() for w in wheels])
    pending: list[tuple[Wheel, frozenset[str]]] = [(program, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    needed: set[str] = set()
    while pending:
        wheel, extras = pending.pop()
        for line in wheel.requires_dist:
            try:
                req = Requirement(line)
            except InvalidRequirement as exc:
                raise BadClientRelease(f"{wheel.file_name} requires {line!r}: {exc}") from exc
            if req.marker is not None and not any(
                req.marker.evaluate({**env, "extra": e})
                for env in environments
                for e in (extras or {""})
            ):
                continue
            name = canonicalize_name(req.name)
            held = sorted(v for v in versions.get(name, ()) if req.specifier.contains(v, True))
            if not held:
                raise BadClientRelease(
                    f"{wheel.pin} requires {req}, which the wheelhouse does not hold"
                )
            if len(versions[name]) > 1:
                raise BadClientRelease(
                    f"the wheelhouse holds {name} {', '.join(sorted(versions[name]))}: one "
                    "version of each package (pip installs one)"
                )
            needed.add(pin(name, held[0]))
            key = (name, frozenset(req.extras))
            if key not in seen:
                seen.add(key)
                pending += [(w, frozenset(req.extras)) for w in by_pin[pin(name, held[0])]]
    return needed


# Marker variables of each operating-system family, by the platform tags of its wheels.
_PLATFORMS = {
    "win": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
    "macosx": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
}


def _environments(wheels: Iterable[Wheel]) -> list[dict[str, str]]:
    """This machine's marker environment, and one for each other OS family with a wheel."""
    families = {
        family
        for wheel in wheels
        for tag in wheel.tags
        for family in _PLATFORMS
        if family in tag.platform
    }
    here = {k: str(v) for k, v in default_environment().items()}
    return [here] + [{**here, **_PLATFORMS[f]} for f in sorted(families)]


def parse_requirements(text: str) -> dict[str, list[str]]:
    """A pinned requirements file (``pip-compile --generate-hashes``, or ``name==version`` per
    line): pin -> its ``sha256:…`` hashes. Anything but pins (with markers), hashes and
    comments is refused."""
    pins: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = _HASH_OPTION.findall(line)
        head = _HASH_OPTION.sub("", line).strip()
        if head:
            match = _REQUIREMENT_LINE.fullmatch(head)
            if match is None:
                raise BadClientRelease(f"the requirements file pins nothing exactly: {head!r}")
            current = pins.setdefault(pin(match[1], match[2]), [])
        elif current is None:
            raise BadClientRelease("the requirements file has a hash outside a pin")
        current.extend(hashes)
    return pins
