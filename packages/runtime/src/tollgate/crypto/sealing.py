"""Sealing to the store: HPKE base mode, ML-KEM-768+X25519, HKDF-SHA256, AES-256-GCM.

``cryptography`` keeps the hybrid key opaque, so the store keeps the two component keys and
the public key travels as our own encoding: ML-KEM-768 public key (1184 bytes) ‖ X25519
public key (32 bytes). The private key file holds the ML-KEM seed (64) ‖ X25519 private (32).
HPKE's base mode has no associated data, so context is bound through ``info``:
``tollgate/v1/<purpose>`` ‖ store id ‖ customer id ‖ request nonce (see crypto.kdf).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from tollgate.crypto.errors import IntegrityError
from tollgate.crypto.kdf import encode_info

MLKEM_PUBLIC_SIZE = 1184
MLKEM_SEED_SIZE = 64
X25519_SIZE = 32
PUBLIC_KEY_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE
PRIVATE_KEY_SIZE = MLKEM_SEED_SIZE + X25519_SIZE

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def sealing_info(purpose: str, store_id: str, customer_id: str, nonce: str) -> bytes:
    return encode_info(purpose, store_id, customer_id, nonce)


@dataclass(frozen=True)
class SealingPublicKey:
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise ValueError(f"sealing public key must be {PUBLIC_KEY_SIZE} bytes")

    def _key(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:MLKEM_PUBLIC_SIZE]),
            x25519.X25519PublicKey.from_public_bytes(self.raw[MLKEM_PUBLIC_SIZE:]),
        )

    def seal(self, plaintext: bytes, info: bytes) -> bytes:
        """enc (1120 bytes) ‖ AES-256-GCM ciphertext."""
        return _SUITE.encrypt(plaintext, self._key(), info=info)


class SealingPrivateKey:
    """The store's HPKE private key."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != PRIVATE_KEY_SIZE:
            raise ValueError(f"sealing private key must be {PRIVATE_KEY_SIZE} bytes")
        self._raw = raw
        self._mlkem = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:MLKEM_SEED_SIZE])
        self._x25519 = x25519.X25519PrivateKey.from_private_bytes(raw[MLKEM_SEED_SIZE:])
        self._key = hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x25519)

    @classmethod
    def generate(cls) -> SealingPrivateKey:
        seed = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
        x = x25519.X25519PrivateKey.generate().private_bytes_raw()
        return cls(seed + x)

    def private_bytes(self) -> bytes:
        return self._raw

    def public_key(self) -> SealingPublicKey:
        return SealingPublicKey(
            self._mlkem.public_key().public_bytes_raw()
            + self._x25519.public_key().public_bytes_raw()
        )

    def open(self, sealed: bytes, info: bytes) -> bytes:
        try:
            return _SUITE.decrypt(sealed, self._key, info=info)
        except Exception as exc:  # cryptography raises InvalidTag or ValueError here
            raise IntegrityError("sealed message could not be opened") from exc
