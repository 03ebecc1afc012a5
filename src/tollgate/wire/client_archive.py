"""The download program as a release: a zip of the ``tollgate`` package, a TUF target.

```
client/<version>/tollgate-client.zip       (TUF target, listed by the delegated role "client")
  tollgate/__init__.py                     __version__ = "<version>"
  tollgate/...                             the package's modules and data files, nothing else
```

The archive is built deterministically (sorted names, fixed timestamps, no ``__pycache__``),
so the same package always gives the same SHA-256. Only the latest client release is listed,
as for products, so an older archive is no longer a target and is refused.

Both sides read an archive through `read_archive`: every member must be a plain file under
``tollgate/`` with a relative, normalised name; sizes are bounded before anything is inflated;
and the version is read from ``tollgate/__init__.py`` without running it.
"""

from __future__ import annotations

import ast
import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from packaging.version import InvalidVersion, Version

from tollgate.files import open_below, plain_files

ARCHIVE_NAME = "tollgate-client.zip"
PACKAGE = "tollgate"
MAX_ARCHIVE = 32 * 1024 * 1024
MAX_MEMBERS = 2_000
MAX_UNPACKED = 64 * 1024 * 1024
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


class BadClientArchive(ValueError):
    """The bytes are not a download-program archive this format allows."""


def client_target(version: str) -> str:
    return f"client/{version}/{ARCHIVE_NAME}"


def build_archive(package_dir: Path) -> bytes:
    """A deterministic zip of the package at ``package_dir`` (a folder named ``tollgate``).
    A symbolic link anywhere in the folder, or a file with a second name (a hard link), raises
    `tollgate.files.UnsafeTree`: the archive is published, and either could bring in any file
    of the machine. Files are opened without following links on the way (`open_below`)."""
    files = [
        rel
        for rel in plain_files(package_dir, skip_dirs=_SKIPPED_DIRS)
        if PurePosixPath(rel).suffix not in _SKIPPED_SUFFIXES
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in files:
            info = zipfile.ZipInfo(f"{PACKAGE}/{rel}", date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open_below(package_dir, rel) as fh:
                zf.writestr(info, fh.read())
    data = out.getvalue()
    read_archive(data)  # what we build, we can read
    return data


def read_archive(data: bytes) -> dict[str, bytes]:
    """The archive's files by their path (``tollgate/...``), every rule checked."""
    if len(data) > MAX_ARCHIVE:
        raise BadClientArchive(f"the archive is larger than {MAX_ARCHIVE} bytes")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BadClientArchive(f"the archive has more than {MAX_MEMBERS} members")
        if sum(i.file_size for i in infos) > MAX_UNPACKED:
            raise BadClientArchive(f"the archive unpacks to more than {MAX_UNPACKED} bytes")
        members: dict[str, bytes] = {}
        for info in infos:
            _check_name(info)
            if info.filename in members:
                raise BadClientArchive(f"the archive holds {info.filename} twice")
            body = zf.read(info)
            if len(body) != info.file_size:
                raise BadClientArchive(f"{info.filename} is not the size the archive says")
            members[info.filename] = body
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise BadClientArchive(f"not a readable zip archive: {exc}") from exc
    archive_version(members)
    return members


def _check_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name)
    mode = info.external_attr >> 16
    if (
        info.is_dir()
        or "\\" in name
        or path.is_absolute()
        or path.parts[:1] != (PACKAGE,)
        or any(part in ("", ".", "..") for part in name.split("/"))
        or stat.S_IFMT(mode) not in (0, stat.S_IFREG)  # a link, device or folder
    ):
        raise BadClientArchive(f"the archive member {name!r} is not a plain file under tollgate/")


def archive_version(members: dict[str, bytes]) -> str:
    """``__version__`` of the archived package, read from its source without running it."""
    source = members.get(f"{PACKAGE}/__init__.py")
    if source is None:
        raise BadClientArchive("the archive has no tollgate/__init__.py")
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise BadClientArchive(f"tollgate/__init__.py does not parse: {exc}") from exc
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            try:
                return str(Version(node.value.value))
            except InvalidVersion as exc:
                raise BadClientArchive(f"__version__ is not a version: {exc}") from exc
    raise BadClientArchive("tollgate/__init__.py sets no __version__ string")
