"""zstd as both sides use it: sizes are enforced, patches rebuild exactly or fail."""

from __future__ import annotations

import io
import os

import pytest

from tollgate.protocol import zstd


def packed(data: bytes) -> bytes:
    out = io.BytesIO()
    zstd.compress_stream(io.BytesIO(data), out, len(data))
    return out.getvalue()


def test_round_trip_and_digest() -> None:
    data = b"tollgate " * 50_000
    blob = packed(data)
    assert len(blob) < len(data) // 10
    assert b"".join(zstd.decompress_stream(io.BytesIO(blob), len(data))) == data


@pytest.mark.parametrize("claimed", [100, 449_999, 450_001])
def test_decompression_refuses_any_other_size(claimed: int) -> None:
    blob = packed(b"tollgate " * 50_000)
    with pytest.raises(zstd.ZstdFailure):
        b"".join(zstd.decompress_stream(io.BytesIO(blob), claimed))


def test_garbage_does_not_decompress() -> None:
    with pytest.raises(zstd.ZstdFailure):
        b"".join(zstd.decompress_stream(io.BytesIO(os.urandom(1000)), 1000))


def test_patch_rebuilds_the_new_file_from_the_old() -> None:
    old = os.urandom(2_000_000)
    new = old[:500_000] + b"changed" + old[500_000:1_500_000] + old[1_600_000:]
    patch = zstd.make_patch(old, new)
    assert len(patch) < 2_000  # only the change travels
    assert zstd.apply_patch(old, patch, len(new)) == new


def test_patch_on_another_base_or_size_fails() -> None:
    old = os.urandom(300_000)
    new = old[:1000] + b"x" + old[1000:]
    patch = zstd.make_patch(old, new)
    with pytest.raises(zstd.ZstdFailure):
        zstd.apply_patch(old, patch, len(new) + 1)
    with pytest.raises(zstd.ZstdFailure):
        zstd.apply_patch(old, patch[:-10], len(new))
    other = os.urandom(300_000)
    assert zstd.apply_patch(other, patch, len(new)) != new  # the caller's SHA-256 refuses it
