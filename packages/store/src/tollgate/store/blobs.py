"""Released files on disk, named by the SHA-256 of their bytes (content-addressed).

Writes go to a temporary file in the same folder and are moved into place with ``os.replace``,
so a crash never leaves a partial blob under a digest name. The same interface can front
S3-compatible object storage at scale.

While a blob is written its parts are hashed too: consecutive slices of ``part_size`` bytes
(the last one shorter), each with its own SHA-256, which the client checks one by one as they
arrive (DESIGN.md section 5: downloads in parts that resume).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tollgate.crypto.stream import Writable

DIGEST_RE = re.compile(r"\A[0-9a-f]{64}\Z")  # whole: $ would let "…\n" through
PART_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    length: int
    sha256: str

    def to_json(self) -> dict[str, int | str]:
        return {"length": self.length, "sha256": self.sha256}


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    parts: tuple[Part, ...]


class BlobStore:
    def __init__(self, root: Path, part_size: int = PART_SIZE) -> None:
        self.root, self.part_size = root, part_size

    def path(self, digest: str) -> Path:
        if not DIGEST_RE.fullmatch(digest):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / digest

    def write_bytes(self, data: bytes) -> Blob:
        """Store ``data``."""
        return self.write(lambda out: out.write(data))

    def write(self, produce: Callable[[Writable], object]) -> Blob:
        """Let ``produce`` write into a new blob; return its digest, size and parts."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as raw:
                hashing = _HashingWriter(raw, self.part_size)
                produce(hashing)
                raw.flush()
                os.fsync(raw.fileno())
            blob = hashing.finish()
            os.replace(tmp, self.root / blob.digest)
            return blob
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _HashingWriter:
    """A write-only file object that hashes what passes through it, whole and in parts."""

    def __init__(self, target: Writable, part_size: int) -> None:
        self._target, self._part_size = target, part_size
        self._whole = hashlib.sha256()
        self._part = hashlib.sha256()
        self._part_length = 0
        self._parts: list[Part] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._whole.update(data)
        self._size += len(data)
        view = memoryview(data)
        while view:
            take = min(len(view), self._part_size - self._part_length)
            self._part.update(view[:take])
            self._part_length += take
            view = view[take:]
            if self._part_length == self._part_size:
                self._end_part()
        return self._target.write(data)

    def _end_part(self) -> None:
        self._parts.append(Part(self._part_length, self._part.hexdigest()))
        self._part, self._part_length = hashlib.sha256(), 0

    def finish(self) -> Blob:
        if self._part_length or not self._parts:  # an empty file is one empty part
            self._end_part()
        return Blob(self._whole.hexdigest(), self._size, tuple(self._parts))
