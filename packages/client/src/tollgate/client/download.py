"""Downloading one released file in signed parts that resume (DESIGN.md section 5).

The file grows in ``<dest>.part``. Each part is checked against its signed length and SHA-256
the moment its last byte arrives; a part that fails is cut off the file and refused, so what
stays on disk is always verified parts plus, at most, the beginning of the next one. A broken
connection is retried a few times with backoff, each time from the byte where it stopped (HTTP
Range); if the line stays down, the next run starts from there too, after re-checking the
complete parts already on disk. Nothing past the signed length is ever written: a store that
sends more (endless data) is cut off. Only when every part has passed is the file renamed into
place.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from tollgate.client.api import Progress, Signer, StoreAPI
from tollgate.client.errors import ClientError, IntegrityFailure, Unreachable
from tollgate.runtime.errors import no_space_left
from tollgate.wire.problems import Exit

READ_SIZE = 1 << 20
RETRIES = 3
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
BACKOFF = 0.5  # seconds, doubled at each retry


class DiskFull(ClientError):
    exit = Exit.USAGE


@dataclass(frozen=True)
class Part:
    offset: int
    length: int
    sha256: str

    @property
    def end(self) -> int:
        return self.offset + self.length


def signed_parts(raw: Any, length: int, digest: str) -> tuple[Part, ...]:
    """The parts of a TUF entry (``[{length, sha256}, …]``) as offsets into the file; they
    must add up to the target's signed length. Raises ValueError."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("no parts")
    parts, offset = [], 0
    for p in raw:
        size, sha = p["length"], p["sha256"]
        if not isinstance(size, int) or size < 0 or not isinstance(sha, str) or len(sha) != 64:
            raise ValueError("a part is malformed")
        parts.append(Part(offset, size, sha))
        offset += size
    if offset != length:
        raise ValueError(f"its parts add up to {offset} bytes, not {length}")
    if len(parts) == 1 and parts[0].sha256 != digest:
        raise ValueError("its one part is not the whole file")
    return tuple(parts)


def fetch_file(
    api: StoreAPI,
    digest: str,
    parts: Sequence[Part],
    dest: Path,
    *,
    signer: Signer | None = None,
    progress: Progress | None = None,
    retries: int = RETRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Fetch the file ``digest`` made of ``parts`` into ``dest``; return the bytes received
    (not those a previous run left on disk)."""
    size = parts[-1].end if parts else 0
    partial = dest.with_name(dest.name + ".part")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _open_partial(partial) as fh:
            state = _Receiving(fh, parts, _verified_prefix(fh, parts), digest)
            attempt = 0
            while state.have < size:
                try:
                    with api.file_range(digest, state.have, size - 1, signer=signer) as response:
                        if response.status_code == 200 and state.have:
                            state.restart()  # the store ignored Range: take it from byte 0
                        for block in response.iter_bytes(READ_SIZE):
                            state.receive(block)
                            if progress:
                                progress(state.have, size)
                except (httpx.TransportError, Unreachable) as exc:
                    attempt += 1
                    if attempt > retries:
                        raise Unreachable(
                            f"the download of {dest.name} broke off at {state.have} of {size} "
                            f"bytes ({exc}); run the command again to resume from there"
                        ) from exc
                    sleep(BACKOFF * 2 ** (attempt - 1))
                    continue
                if state.have < size:
                    raise Unreachable(
                        f"the store ended {dest.name} at {state.have} of {size} bytes; "
                        "run the command again to resume"
                    )
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise DiskFull(
                no_space_left(dest, "downloading", "the download resumes where it stopped")
            ) from exc
        raise
    os.replace(partial, dest)
    return state.received


def _open_partial(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+b")


def _verified_prefix(fh: BinaryIO, parts: Sequence[Part]) -> int:
    """Re-check the complete parts a previous run left; cut the file after the last good one.
    Returns how many bytes are kept (a started part's bytes are kept unverified: its hash is
    checked when it completes)."""
    have = fh.seek(0, os.SEEK_END)
    fh.seek(0)
    for part in parts:
        if part.end > have:
            kept = have if have > part.offset else part.offset
            break
        if _sha256_of(fh, part) != part.sha256:
            kept = part.offset
            break
    else:
        kept = parts[-1].end if parts else 0
    if kept != have:
        fh.truncate(kept)
    return kept


def _sha256_of(fh: BinaryIO, part: Part) -> str:
    h = hashlib.sha256()
    fh.seek(part.offset)
    left = part.length
    while left:
        block = fh.read(min(READ_SIZE, left))
        if not block:
            break
        h.update(block)
        left -= len(block)
    return h.hexdigest()


class _Receiving:
    """Bytes arriving at the end of the partial file, checked part by part."""

    def __init__(self, fh: BinaryIO, parts: Sequence[Part], have: int, digest: str) -> None:
        self._fh, self._parts, self._digest = fh, list(parts), digest
        self.have, self.received = have, 0
        self._index = 0
        self._hash = hashlib.sha256()
        self._locate()

    def _locate(self) -> None:
        """Point at the part holding byte ``have``, hashing what of it is already on disk."""
        self._index = next(
            (i for i, p in enumerate(self._parts) if p.end > self.have), len(self._parts)
        )
        self._hash = hashlib.sha256()
        if self._index < len(self._parts):
            part = self._parts[self._index]
            self._fh.seek(part.offset)
            self._hash.update(self._fh.read(self.have - part.offset))
        self._fh.seek(self.have)

    def restart(self) -> None:
        self._fh.truncate(0)
        self.have = 0
        self._locate()

    def receive(self, block: bytes) -> None:
        view = memoryview(block)
        while view:
            if self._index >= len(self._parts):
                raise IntegrityFailure(
                    f"the store sent more than the {self.have} bytes signed for "
                    f"{self._digest[:12]}: cut off and refused"
                )
            part = self._parts[self._index]
            take = min(len(view), part.end - self.have)
            chunk = view[:take]
            self._fh.write(chunk)
            self._hash.update(chunk)
            self.have += take
            self.received += take
            view = view[take:]
            if self.have == part.end:
                self._finish_part(part)

    def _finish_part(self, part: Part) -> None:
        if self._hash.hexdigest() != part.sha256:
            self._fh.truncate(part.offset)
            self._fh.seek(part.offset)
            self.have = part.offset
            raise IntegrityFailure(
                f"part {self._index + 1} of {len(self._parts)} of {self._digest[:12]} does not "
                "match its signed SHA-256: refused (run again to fetch it anew)"
            )
        self._index += 1
        self._hash = hashlib.sha256()
