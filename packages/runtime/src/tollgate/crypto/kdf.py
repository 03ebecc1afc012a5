"""HKDF with unambiguous, purpose-scoped ``info``.

Every derivation names its purpose and the ids it is bound to (DESIGN.md section 4). The
parts are length-prefixed (2-byte big-endian length, then the bytes) so that no two
different part lists encode to the same ``info``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "tollgate/v1/"


def encode_info(purpose: str, *parts: str | bytes) -> bytes:
    """``tollgate/v1/<purpose>`` followed by each part, all length-prefixed."""
    fields = [(PREFIX + purpose).encode()]
    fields += [p.encode() if isinstance(p, str) else p for p in parts]
    out = bytearray()
    for field in fields:
        if len(field) > 0xFFFF:
            raise ValueError("info part too long")
        out += len(field).to_bytes(2, "big") + field
    return bytes(out)


def hkdf(
    ikm: bytes,
    *,
    purpose: str,
    parts: tuple[str | bytes, ...] = (),
    salt: bytes | None = None,
    length: int = 32,
) -> bytes:
    """HKDF-SHA256 of ``ikm`` for one named purpose."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=salt, info=encode_info(purpose, *parts)
    ).derive(ikm)
