#!/usr/bin/env python3
"""atheris harness: decompressing a frame, or applying a patch, raises only ZstdFailure."""

from __future__ import annotations

import contextlib
import io
import sys

import atheris

with atheris.instrument_imports():
    from tollgate.protocol.zstd import ZstdFailure, apply_patch, decompress_stream

BASE = b"the quick brown fox " * 40  # the base make_seeds.py makes its patch seeds from


def TestOneInput(data: bytes) -> None:
    size = data[0] * 64 if data else 0
    try:
        for _block in decompress_stream(io.BytesIO(data[1:]), size):
            pass
    except ZstdFailure:
        pass
    with contextlib.suppress(ZstdFailure):
        apply_patch(BASE, data[1:], len(BASE))


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
