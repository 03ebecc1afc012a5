"""Properties of content streams and zstd frames: what is encrypted decrypts, any header or
stream bytes give only the crypto layer's errors, any frame or patch only ZstdFailure."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import mutated

from tollgate.crypto import CryptoError, IntegrityError
from tollgate.crypto.stream import (
    MIN_CHUNK_SIZE,
    StreamReader,
    build_header,
    decrypt,
    encrypt,
    parse_header,
)
from tollgate.protocol.zstd import ZstdFailure, apply_patch, decompress_stream, make_patch

KEY = bytes(range(32))
PLAIN = bytes(range(256)) * 10
STREAM = encrypt(KEY, "MT/1.0.0/addon.dic2/words", PLAIN, chunk_size=MIN_CHUNK_SIZE)


@given(
    st.binary(max_size=3 * MIN_CHUNK_SIZE),
    st.text(min_size=1, max_size=50),
    st.integers(MIN_CHUNK_SIZE, 4 * MIN_CHUNK_SIZE),
)
def test_what_is_encrypted_decrypts_and_its_header_parses(
    plain: bytes, file_id: str, chunk_size: int
) -> None:
    data = encrypt(KEY, file_id, plain, chunk_size=chunk_size)
    header = parse_header(data)
    assert (header.file_id, header.chunk_size) == (file_id, chunk_size)
    reader = StreamReader(KEY, data, expected_file_id=file_id)
    assert reader.read_all() == plain
    assert reader.read(1, 10) == plain[1:11]


@given(st.binary(max_size=200))
@example(b"TGSTREAM\x01" + b"\x00" * 60)
def test_any_header_bytes_give_only_integrity_error(data: bytes) -> None:
    with contextlib.suppress(IntegrityError):
        parse_header(data)


@given(mutated(build_header(KEY, "f", chunk_size=MIN_CHUNK_SIZE)[0].raw))
def test_a_damaged_header_gives_only_integrity_error(data: bytes) -> None:
    with contextlib.suppress(IntegrityError):
        parse_header(data)


@given(mutated(STREAM) | st.binary(max_size=300))
def test_any_stream_gives_only_crypto_errors(data: bytes) -> None:
    with contextlib.suppress(CryptoError):
        decrypt(KEY, data)


def test_a_flipped_stream_byte_never_decrypts() -> None:
    data = bytearray(STREAM)
    data[len(data) // 2] ^= 1
    with pytest.raises(IntegrityError):
        decrypt(KEY, bytes(data))


OLD = b"the quick brown fox " * 40
NEW = OLD.replace(b"fox", b"cat")
PATCH = make_patch(OLD, NEW)


def decompress(data: bytes, size: int) -> None:
    with contextlib.suppress(ZstdFailure):
        b"".join(decompress_stream(io.BytesIO(data), size))


@given(st.binary(max_size=300), st.integers(0, 1 << 20))
@example(b"(\xb5/\xfd", 0)
def test_any_frame_gives_only_zstd_failure(data: bytes, size: int) -> None:
    decompress(data, size)


@given(mutated(PATCH))
def test_a_damaged_patch_gives_only_zstd_failure(patch: bytes) -> None:
    """Only the error: a frame has no checksum, so the result may differ; what applies is
    checked against its signed SHA-256 by the caller (client/install.py)."""
    with contextlib.suppress(ZstdFailure):
        assert len(apply_patch(OLD, patch, len(NEW))) == len(NEW)


@given(st.binary(max_size=64), st.binary(max_size=300))
def test_any_patch_on_any_base_gives_only_zstd_failure(old: bytes, patch: bytes) -> None:
    with contextlib.suppress(ZstdFailure):
        apply_patch(old, patch, 100)


def test_a_patch_applies() -> None:
    assert apply_patch(OLD, PATCH, len(NEW)) == NEW
