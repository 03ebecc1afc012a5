#!/usr/bin/env python3
"""atheris harness: a content stream's header raises only IntegrityError when parsed, and a
whole stream only the crypto layer's errors when opened and read."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from tollgate.crypto import CryptoError, IntegrityError
    from tollgate.crypto.stream import StreamReader, parse_header

KEY = bytes(range(32))  # the key make_seeds.py encrypts the seed streams with


def TestOneInput(data: bytes) -> None:
    try:
        parse_header(data)
    except IntegrityError:
        return
    try:
        reader = StreamReader(KEY, data)
        reader.read(0, 100)
        reader.read_all()
    except CryptoError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
