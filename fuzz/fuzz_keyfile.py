#!/usr/bin/env python3
"""atheris harness: reading a key file raises only IntegrityError; opening one that parses
(without Argon2: the password key is given) raises only the crypto layer's errors."""

from __future__ import annotations

import contextlib
import sys

import atheris

with atheris.instrument_imports():
    from tollgate.crypto import CryptoError, IntegrityError
    from tollgate.crypto.keyfile import KeyFile, unseal_key


def TestOneInput(data: bytes) -> None:
    try:
        kf = KeyFile.from_bytes(data)
    except IntegrityError:
        return
    with contextlib.suppress(CryptoError):
        unseal_key(kf, machine_id="0123456789abcdef", password_key=b"p" * 32)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
