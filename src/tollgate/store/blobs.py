"""Released files on disk, named by the SHA-256 of their bytes (content-addressed).

Writes go to a temporary file in the same folder and are moved into place with ``os.replace``,
so a crash never leaves a partial blob under a digest name. The same interface can front
S3-compatible object storage at scale.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from tollgate.crypto.stream import Writable

DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if not DIGEST_RE.match(digest):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / digest

    def write_bytes(self, data: bytes) -> str:
        """Store ``data``; return its digest."""
        return self.write(lambda out: out.write(data))[0]

    def write(self, produce: Callable[[Writable], object]) -> tuple[str, int]:
        """Let ``produce`` write into a new blob; return its digest and size."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as raw:
                hashing = _HashingWriter(raw)
                produce(hashing)
                raw.flush()
                os.fsync(raw.fileno())
            digest = hashing.sha256.hexdigest()
            os.replace(tmp, self.root / digest)
            return digest, hashing.size
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class _HashingWriter:
    """A write-only file object that hashes what passes through it."""

    def __init__(self, target: Writable) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._target.write(data)
