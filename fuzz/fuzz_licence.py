#!/usr/bin/env python3
"""atheris harness: a licence raises only the crypto layer's errors, signed or not. The input
is JSON; when it is canonical JSON it is also signed with the harness's key, so the body's
own checks run too."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tollgate.crypto import CryptoError, bounded_json
    from tollgate.crypto.documents import sign_document
    from tollgate.wire.licence import Policy, parse_licence

KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))  # a fixed test key, not a secret


def _parse(envelope: Any) -> None:
    with contextlib.suppress(CryptoError):
        parse_licence(envelope, KEY.public_key(), store_id="st_fuzz", customer_id="cu_fuzz")


def TestOneInput(data: bytes) -> None:
    try:
        doc = bounded_json.loads(data, max_size=1 << 20)
    except bounded_json.BadJSON:
        return
    _parse(doc)
    if isinstance(doc, dict):
        with contextlib.suppress(ValueError):
            Policy.from_json(doc.get("policy"))
        try:
            envelope = sign_document(doc, KEY)
        except ValueError:  # not canonical JSON: canonical.dumps's documented error
            return
        _parse(envelope)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
