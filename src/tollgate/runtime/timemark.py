"""The time mark: the latest trusted time this machine has seen, sealed beside the key file.

A licence's time rules mean nothing if the clock can be moved back, so the runtime keeps the
latest of its own clock and the store times it has seen (each licence's ``issued_at``), and
refuses a clock behind it (runtime/policy.py). The mark is sealed with AES-256-GCM under a key
derived from ``K`` (crypto/keys.py ``time_mark_key``), the ids bound as associated data, so it
cannot be edited or moved between customers; deleting it only falls back to the newest
licence's store time, which the next renewal raises again.

File ``HOME/stores/<store id>/timemark.json``: ``{"format": 1, "nonce": b64, "sealed": b64}``,
the plaintext the ISO 8601 instant.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tollgate.crypto.errors import IntegrityError
from tollgate.crypto.kdf import encode_info
from tollgate.files import write_atomic


def _aad(store_id: str, customer_id: str) -> bytes:
    return encode_info("time-mark", store_id, customer_id)


def seal_mark(key: bytes, store_id: str, customer_id: str, when: dt.datetime) -> bytes:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(
        nonce, when.astimezone(dt.UTC).isoformat().encode(), _aad(store_id, customer_id)
    )
    doc = {
        "format": 1,
        "nonce": base64.b64encode(nonce).decode(),
        "sealed": base64.b64encode(sealed).decode(),
    }
    return json.dumps(doc).encode() + b"\n"


def open_mark(key: bytes, store_id: str, customer_id: str, data: bytes) -> dt.datetime:
    try:
        doc = json.loads(data)
        if doc["format"] != 1:
            raise ValueError("unknown format")
        plain = AESGCM(key).decrypt(
            base64.b64decode(doc["nonce"]),
            base64.b64decode(doc["sealed"]),
            _aad(store_id, customer_id),
        )
        when = dt.datetime.fromisoformat(plain.decode())
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError("the time mark is damaged or not this customer's") from exc
    if when.tzinfo is None:
        raise IntegrityError("the time mark has no time zone")
    return when


def read_mark(path: Path, key: bytes, store_id: str, customer_id: str) -> dt.datetime | None:
    """The mark in ``path``; None when there is none yet; IntegrityError when damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return open_mark(key, store_id, customer_id, data)


def write_mark(path: Path, key: bytes, store_id: str, customer_id: str, when: dt.datetime) -> None:
    write_atomic(path, seal_mark(key, store_id, customer_id, when))
