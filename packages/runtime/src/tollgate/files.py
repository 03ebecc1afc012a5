"""Files on disk: writes that a crash leaves old or new, never a mix; walks of a folder that
is about to be published, which follow no link; and a lock file between processes.

Standard library only: the bootstrap installer uses this before it knows what else is installed.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, and rename it over
    ``path`` (``os.replace`` is atomic on POSIX and Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where folders cannot be opened)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class UnsafeTree(Exception):
    """A folder to publish holds something other than plain files and folders of its own."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path = path


def plain_files(root: Path, *, skip_dirs: frozenset[str] = frozenset()) -> list[str]:
    """Relative POSIX paths, sorted, of every regular file under ``root``, walked without
    following links. A symbolic link anywhere in the tree (to a file or to a folder, dangling
    or not), a device, a FIFO or a socket raises `UnsafeTree` naming it: whatever a link points
    at, a walk that followed it could publish a file from outside the folder (a store key, say).
    Folders named in ``skip_dirs`` are left out whole, but only when they are real folders."""
    found: list[str] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                path = Path(entry.path)
                if entry.is_symlink():
                    raise UnsafeTree(path, f"is a symbolic link (to {os.readlink(path)})")
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in skip_dirs:
                        pending.append(path)
                elif stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                    found.append(path.relative_to(root).as_posix())
                else:
                    raise UnsafeTree(path, "is not a regular file (a device, FIFO or socket)")
    return sorted(found)


def open_plain(path: Path) -> BinaryIO:
    """``path`` opened for reading, refused if its last component is a symbolic link
    (``O_NOFOLLOW``)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, "rb")


def open_below(root: Path, rel: str) -> BinaryIO:
    """The file ``rel`` (a relative POSIX path) under ``root``, opened one component at a time
    with ``O_NOFOLLOW`` (folders also ``O_DIRECTORY``), so no link anywhere on the way is
    followed, even one swapped in after a walk looked. The file must be a regular file with a
    single name: a hard link's other name may lie anywhere, the store's database included."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    directory = getattr(os, "O_DIRECTORY", 0)
    parts = rel.split("/")
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise UnsafeTree(root / rel, "is not a plain relative path")
    fd = os.open(root, os.O_RDONLY | directory)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | directory | nofollow, dir_fd=fd)
            os.close(fd)
            fd = inner
        file_fd = os.open(parts[-1], os.O_RDONLY | nofollow, dir_fd=fd)
    except OSError as exc:  # ELOOP or ENOTDIR: a link on the way; ENOENT: gone meanwhile
        raise UnsafeTree(root / rel, f"cannot be opened without following a link: {exc}") from exc
    finally:
        os.close(fd)
    info = os.fstat(file_fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(file_fd)
        what = (
            "is not a regular file"
            if not stat.S_ISREG(info.st_mode)
            else (f"has {info.st_nlink} names (hard links): publish a copy of it")
        )
        raise UnsafeTree(root / rel, what)
    return os.fdopen(file_fd, "rb")


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) for the block: other processes
    asking for it wait. ``flock`` on POSIX, ``msvcrt.locking`` on Windows; released by the
    system if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
