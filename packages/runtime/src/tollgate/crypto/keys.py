"""Keys derived from the customer key ``K``: the purchase key, licence key-wrapping keys and
the time-mark key."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap_with_padding,
)

from tollgate.crypto.errors import IntegrityError
from tollgate.crypto.kdf import hkdf


def purchase_key(
    customer_key: bytes, store_id: str, customer_id: str, password_key: bytes | None = None
) -> bytes:
    """``PK``: HKDF(K) alone, or HKDF(K ‖ Argon2id(password)) when a password is set, in
    which case ``K`` alone cannot buy (as in the patent)."""
    ikm = customer_key if password_key is None else customer_key + password_key
    purpose = "purchase" if password_key is None else "purchase+password"
    return hkdf(ikm, purpose=purpose, parts=(store_id, customer_id))


def licence_wrapping_key(
    customer_key: bytes, store_id: str, customer_id: str, licence_id: str
) -> bytes:
    """KWK = HKDF(K, salt = licence id, info ``tollgate/v1/licence`` ‖ ids)."""
    return hkdf(
        customer_key, purpose="licence", parts=(store_id, customer_id), salt=licence_id.encode()
    )


def time_mark_key(customer_key: bytes, store_id: str, customer_id: str) -> bytes:
    """The key that seals the latest trusted time this machine has seen (runtime/timemark.py)."""
    return hkdf(customer_key, purpose="time-mark", parts=(store_id, customer_id))


def wrap_content_key(kwk: bytes, content_key: bytes) -> bytes:
    """AES key wrap with padding (RFC 5649)."""
    return aes_key_wrap_with_padding(kwk, content_key)


def unwrap_content_key(kwk: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap_with_padding(kwk, wrapped)
    except InvalidUnwrap as exc:
        raise IntegrityError(
            "the licence's content key does not unwrap with this customer's key"
        ) from exc


def seal_secret(master_key: bytes, purpose: str, owner: str, secret: bytes) -> bytes:
    """Encrypt a secret at rest on the store (K, PK) under the master key: nonce ‖ ct.

    The key is derived per purpose and the owner id is associated data, so a value cannot be
    moved between columns or customers.
    """
    aead = AESGCM(hkdf(master_key, purpose="at-rest/" + purpose))
    nonce = os.urandom(12)
    return nonce + aead.encrypt(nonce, secret, owner.encode())


def open_secret(master_key: bytes, purpose: str, owner: str, sealed: bytes) -> bytes:
    aead = AESGCM(hkdf(master_key, purpose="at-rest/" + purpose))
    try:
        return aead.decrypt(sealed[:12], sealed[12:], owner.encode())
    except InvalidTag as exc:
        raise IntegrityError(f"stored {purpose} for {owner} does not open") from exc
