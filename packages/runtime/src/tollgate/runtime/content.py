"""Random access to an add-on's file, for content such as books: only the chunks a read spans
are decrypted (and authenticated), so opening a 50 MiB book costs one header check and reading
a page costs one or two chunks.

The vault file is memory-mapped, read-only: the operating system pages in only what a read
touches and may drop it again, so memory stays flat however large the file. Plaintext lives
only in the ``bytes`` each read returns and in the one chunk the latest read ended in (at most
64 KiB), kept so that paging through a chunk decrypts it once.

Opening an encrypted file raises only ``CryptoError`` for what its bytes hold (an empty file
too: it is shorter than any stream header), ``OSError`` when it cannot be read; an empty plain
file is an empty `Content` (an empty file cannot be memory-mapped).
"""

from __future__ import annotations

import mmap
from pathlib import Path
from types import TracebackType

from tollgate.crypto import CryptoError, IntegrityError
from tollgate.crypto.stream import StreamReader
from tollgate.runtime.errors import AddOnIntegrityError

PAGE_SIZE = 4096


class Content:
    """One file of an add-on, read by offset or by page. Close it (or use ``with``)."""

    def __init__(self, path: Path, reader: StreamReader | None, mapping: mmap.mmap | None) -> None:
        self.path, self._reader, self._map = path, reader, mapping
        self.size = reader.size if reader is not None else len(mapping or b"")

    @classmethod
    def encrypted(
        cls, path: Path, content_key: bytes, *, file_id: str, commitment: bytes
    ) -> Content:
        mapping = _map(path)
        if mapping is None:
            raise IntegrityError("content stream is shorter than its header (the file is empty)")
        try:
            reader = StreamReader(
                content_key,
                memoryview(mapping),
                expected_file_id=file_id,
                expected_commitment=commitment,
            )
        except BaseException:
            mapping.close()
            raise
        return cls(path, reader, mapping)

    @classmethod
    def plain(cls, path: Path) -> Content:
        return cls(path, None, _map(path))

    def read(self, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset + length)`` (fewer at the end of the file)."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        if self._reader is None:
            return b"" if self._map is None else self._map[offset : offset + length]
        try:
            return self._reader.read(offset, length)
        except CryptoError as exc:
            raise AddOnIntegrityError(f"{self.path.name}: {exc}; it will not be read") from exc

    def page(self, number: int, page_size: int = PAGE_SIZE) -> bytes:
        """Page ``number`` (from 0) of ``page_size`` bytes."""
        return self.read(number * page_size, page_size)

    def pages(self, page_size: int = PAGE_SIZE) -> int:
        return -(-self.size // page_size)

    def close(self) -> None:
        self._reader = None
        if self._map is not None:
            self._map.close()

    def __enter__(self) -> Content:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _map(path: Path) -> mmap.mmap | None:
    """The file mapped read-only, or ``None`` when it is empty."""
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return None
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
