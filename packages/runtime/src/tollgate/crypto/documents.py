"""Signed JSON documents: Ed25519 over canonical JSON (RFC 8785).

The envelope is ``{"signed": {...}, "signatures": [{"keyid": hex, "sig": base64}]}``, the shape
TUF uses, where ``keyid`` is the SHA-256 of the raw public key. The caller names the key it
expects; the envelope never chooses its own key. `verify_document` raises only
`SignatureError`, whatever the envelope holds: a body that is not canonical JSON (a float, an
integer beyond 2^53 − 1, nesting deeper than canonical.MAX_DEPTH) cannot have been signed.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tollgate.crypto import canonical
from tollgate.crypto.errors import SignatureError


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise SignatureError("malformed Ed25519 public key") from exc


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key.public_bytes_raw()).decode()


def sign_document(signed: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    sig = private_key.sign(canonical.dumps(signed))
    return {
        "signed": signed,
        "signatures": [
            {"keyid": key_id(private_key.public_key()), "sig": base64.b64encode(sig).decode()}
        ],
    }


def verify_document(envelope: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Return ``envelope["signed"]`` if a signature by ``public_key`` verifies over it."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signed"), dict):
        raise SignatureError("not a signed document")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list):
        raise SignatureError("the signed document has no list of signatures")
    want = key_id(public_key)
    try:
        body = canonical.dumps(envelope["signed"])
    except ValueError as exc:
        raise SignatureError(f"the signed body is not canonical JSON: {exc}") from exc
    for entry in signatures:
        if not isinstance(entry, dict) or entry.get("keyid") != want:
            continue
        try:
            public_key.verify(base64.b64decode(str(entry.get("sig")), validate=True), body)
        except (InvalidSignature, ValueError) as exc:
            raise SignatureError("document signature does not verify") from exc
        signed: dict[str, Any] = envelope["signed"]
        return signed
    raise SignatureError("document is not signed by the expected key")
