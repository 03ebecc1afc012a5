"""The chunked AEAD content stream (DESIGN.md section 4; see docs/protocol.md for the layout).

A stream is a header followed by chunks. Each chunk is AES-256-GCM of up to ``chunk_size``
plaintext bytes, so any chunk decrypts alone (random access). Per stream, HKDF derives from
the content key, a random 32-byte salt and the file id: the AEAD key, a 12-byte base nonce and
a commitment key. The header ends with HMAC(commitment key, header-before-commitment), checked
before anything else, so a wrong key or an edited header fails at once. The nonce of chunk
``i`` is the base nonce XOR (``i`` as 11 bytes big-endian ‖ last-flag byte), so reordered,
dropped or appended chunks fail; the whole header is each chunk's associated data.

Anchors: C2SP chunked-encryption, age's STREAM, Tink's streaming AEAD.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tollgate.crypto.errors import IntegrityError, WrongKeyError
from tollgate.crypto.kdf import hkdf

MAGIC = b"TGSTREAM"
VERSION = 1
TAG_SIZE = 16
SALT_SIZE = 32
COMMITMENT_SIZE = 32
FILE_CHUNK_SIZE = 64 * 1024
PAGED_CHUNK_SIZE = 16 * 1024
MIN_CHUNK_SIZE = 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
MAX_FILE_ID = 1024
# magic, version (u8), chunk size (u32), salt, file-id length (u16)
_FIXED = struct.Struct(f">8sBI{SALT_SIZE}sH")
MAX_HEADER_SIZE = _FIXED.size + MAX_FILE_ID + COMMITMENT_SIZE


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class StreamKeys:
    aead: AESGCM
    base_nonce: bytes
    commitment_key: bytes


@dataclass(frozen=True)
class StreamHeader:
    """The parsed header. ``raw`` is its exact bytes, the associated data of every chunk."""

    chunk_size: int
    salt: bytes
    file_id: str
    commitment: bytes
    raw: bytes

    @property
    def unsigned_part(self) -> bytes:
        return self.raw[:-COMMITMENT_SIZE]


def derive_stream_keys(content_key: bytes, salt: bytes, file_id: str) -> StreamKeys:
    if len(content_key) != 32:
        raise ValueError("content key must be 32 bytes")
    okm = hkdf(content_key, purpose="stream", parts=(file_id,), salt=salt, length=32 + 12 + 32)
    return StreamKeys(AESGCM(okm[:32]), okm[32:44], okm[44:])


def _commit(commitment_key: bytes, header_body: bytes) -> bytes:
    return hmac.new(commitment_key, header_body, sha256).digest()


def _nonce(base: bytes, index: int, last: bool) -> bytes:
    if index >= 1 << 88:
        raise ValueError("stream too long")
    counter = index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
    return bytes(a ^ b for a, b in zip(base, counter, strict=True))


def build_header(
    content_key: bytes,
    file_id: str,
    *,
    chunk_size: int = FILE_CHUNK_SIZE,
    salt: bytes | None = None,
) -> tuple[StreamHeader, StreamKeys]:
    """A fresh header (random salt unless one is given, for test vectors)."""
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}")
    fid = file_id.encode()
    if not 0 < len(fid) <= MAX_FILE_ID:
        raise ValueError("file id must be 1 to 1024 bytes of UTF-8")
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    keys = derive_stream_keys(content_key, salt, file_id)
    body = _FIXED.pack(MAGIC, VERSION, chunk_size, salt, len(fid)) + fid
    commitment = _commit(keys.commitment_key, body)
    return StreamHeader(chunk_size, salt, file_id, commitment, body + commitment), keys


def parse_header(data: bytes) -> StreamHeader:
    """Parse (not yet verify) a header from the start of ``data``."""
    if len(data) < _FIXED.size:
        raise IntegrityError("content stream is shorter than its header")
    magic, version, chunk_size, salt, fid_len = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise IntegrityError("not a Tollgate content stream")
    if version != VERSION:
        raise IntegrityError(f"unsupported content stream version {version}")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE or not 0 < fid_len <= MAX_FILE_ID:
        raise IntegrityError("content stream header is malformed")
    end = _FIXED.size + fid_len + COMMITMENT_SIZE
    if len(data) < end:
        raise IntegrityError("content stream is shorter than its header")
    try:
        file_id = data[_FIXED.size : _FIXED.size + fid_len].decode()
    except UnicodeDecodeError as exc:
        raise IntegrityError("content stream header is malformed") from exc
    return StreamHeader(chunk_size, salt, file_id, data[end - COMMITMENT_SIZE : end], data[:end])


def header_length(data: bytes) -> int:
    return len(parse_header(data).raw)


def encrypt_chunks(
    content_key: bytes,
    file_id: str,
    chunks: Iterable[bytes],
    *,
    chunk_size: int = FILE_CHUNK_SIZE,
    salt: bytes | None = None,
) -> Iterator[bytes]:
    """Yield the header, then one ciphertext chunk per plaintext chunk.

    ``chunks`` must each be exactly ``chunk_size`` bytes except the last, which may be shorter
    (or empty, for an empty file). Use :func:`rechunk` to cut an arbitrary byte iterator.
    """
    header, keys = build_header(content_key, file_id, chunk_size=chunk_size, salt=salt)
    yield header.raw
    index = 0
    pending: bytes | None = None
    for chunk in chunks:
        if pending is not None:
            if len(pending) != chunk_size:
                raise ValueError("only the last chunk may be short")
            yield keys.aead.encrypt(_nonce(keys.base_nonce, index, False), pending, header.raw)
            index += 1
        pending = chunk
    final = pending if pending is not None else b""
    if len(final) > chunk_size:
        raise ValueError("chunk longer than chunk size")
    yield keys.aead.encrypt(_nonce(keys.base_nonce, index, True), final, header.raw)


def rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Cut a stream of byte pieces into ``size``-byte chunks (the last may be short)."""
    buf = bytearray()
    for piece in pieces:
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def encrypt(
    content_key: bytes,
    file_id: str,
    plaintext: bytes,
    *,
    chunk_size: int = FILE_CHUNK_SIZE,
    salt: bytes | None = None,
) -> bytes:
    chunks = (plaintext[i : i + chunk_size] for i in range(0, len(plaintext), chunk_size))
    return b"".join(encrypt_chunks(content_key, file_id, chunks, chunk_size=chunk_size, salt=salt))


def encrypt_file(
    content_key: bytes,
    file_id: str,
    source: BinaryIO,
    target: Writable,
    *,
    chunk_size: int = FILE_CHUNK_SIZE,
) -> bytes:
    """Encrypt ``source`` into ``target``; return the stream's commitment."""
    pieces = iter(lambda: source.read(chunk_size), b"")
    commitment = b""
    for i, out in enumerate(encrypt_chunks(content_key, file_id, pieces, chunk_size=chunk_size)):
        if i == 0:
            commitment = out[-COMMITMENT_SIZE:]
        target.write(out)
    return commitment


class StreamReader:
    """Random-access decryption of one stream held in memory (or any bytes-like buffer).

    The header's commitment is verified on construction; each chunk is authenticated when it
    is read. ``expected_file_id`` and ``expected_commitment`` (from a signed licence) pin the
    stream to what the store published.
    """

    def __init__(
        self,
        content_key: bytes,
        data: bytes | memoryview,
        *,
        expected_file_id: str | None = None,
        expected_commitment: bytes | None = None,
    ) -> None:
        self._data = memoryview(data)
        header = parse_header(bytes(self._data[: _FIXED.size + MAX_FILE_ID + COMMITMENT_SIZE]))
        if expected_file_id is not None and header.file_id != expected_file_id:
            raise IntegrityError(
                f"content stream is for {header.file_id!r}, expected {expected_file_id!r}"
            )
        if expected_commitment is not None and not hmac.compare_digest(
            header.commitment, expected_commitment
        ):
            raise IntegrityError("content stream header does not match its licence")
        keys = derive_stream_keys(content_key, header.salt, header.file_id)
        if not hmac.compare_digest(
            _commit(keys.commitment_key, header.unsigned_part), header.commitment
        ):
            raise WrongKeyError("wrong key for this content stream, or its header was edited")
        self.header = header
        self._keys = keys
        body = len(self._data) - len(header.raw)
        stride = header.chunk_size + TAG_SIZE
        self.chunk_count = max(1, -(-body // stride))
        last_len = body - (self.chunk_count - 1) * stride
        if last_len < TAG_SIZE:
            raise IntegrityError("content stream is truncated")
        self.size = (self.chunk_count - 1) * header.chunk_size + last_len - TAG_SIZE
        self._last: tuple[int, bytes] | None = None  # the chunk the latest read ended in

    def chunk(self, index: int) -> bytes:
        """Decrypt and authenticate chunk ``index`` alone."""
        if not 0 <= index < self.chunk_count:
            raise IndexError("chunk index out of range")
        stride = self.header.chunk_size + TAG_SIZE
        start = len(self.header.raw) + index * stride
        sealed = self._data[start : start + stride]
        last = index == self.chunk_count - 1
        try:
            return self._keys.aead.decrypt(
                _nonce(self._keys.base_nonce, index, last), sealed, self.header.raw
            )
        except InvalidTag as exc:
            raise IntegrityError(
                f"content stream chunk {index} failed authentication "
                "(altered, reordered, truncated or extended)"
            ) from exc

    def read(self, offset: int, length: int) -> bytes:
        """Plaintext bytes ``[offset, offset+length)``, decrypting only the chunks they span.

        The chunk a read ends in is kept until the next read, so reading a file page by page
        decrypts each chunk once, not once per page."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be non-negative")
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        size = self.header.chunk_size
        first, last = offset // size, (end - 1) // size
        data = b"".join(self._kept_chunk(i) for i in range(first, last + 1))
        return data[offset - first * size : end - first * size]

    def _kept_chunk(self, index: int) -> bytes:
        if self._last is None or self._last[0] != index:
            self._last = (index, self.chunk(index))
        return self._last[1]

    def read_all(self) -> bytes:
        """Every chunk, verified; nothing is returned unless all of it authenticates."""
        return b"".join(self.chunk(i) for i in range(self.chunk_count))


def decrypt(
    content_key: bytes,
    data: bytes,
    *,
    expected_file_id: str | None = None,
    expected_commitment: bytes | None = None,
) -> bytes:
    return StreamReader(
        content_key,
        data,
        expected_file_id=expected_file_id,
        expected_commitment=expected_commitment,
    ).read_all()
