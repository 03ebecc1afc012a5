"""The store's TUF signing keys: one file per key in ``STORE/keys/tuf/``, found by key id.

A file is named ``<role>-<key id, 16 hex>.key`` (stores made before rotation existed have
``root-1.key``, ``targets.key``, …) and holds the raw 32-byte Ed25519 private key. The role in
the name only says which keys a new repository starts with; after that, the repository signs
with the keys its own current metadata names (root names the top-level keys, targets the
delegated ones), looked up here by key id. So a rotation by another process (``tollgate store
rotate-keys`` beside a running ``store serve``) reaches the server at its next signature
without a restart, and a rotation that crashes before its metadata is committed leaves only
key files nobody names.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import SSlibKey

ROLES = ("root", "targets", "products", "snapshot", "timestamp")
KEYS_PER_ROLE = {"root": 2}


def key_id(key: Ed25519PrivateKey) -> str:
    return str(SSlibKey.from_crypto(key.public_key()).keyid)


def role_of(file_name: str) -> str:
    return file_name.split(".")[0].split("-")[0]


class TufKeyring:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._keys = self._read()

    def _read(self) -> dict[str, tuple[str, Ed25519PrivateKey, Path]]:
        found = {}
        for path in sorted(self.folder.glob("*.key")):
            key = Ed25519PrivateKey.from_private_bytes(path.read_bytes())
            found[key_id(key)] = (role_of(path.name), key, path)
        return found

    @classmethod
    def create(cls, folder: Path) -> TufKeyring:
        """A new folder with fresh keys for every role (two for root)."""
        folder.mkdir(mode=0o700)
        ring = cls(folder)
        for role in ROLES:
            for _ in range(KEYS_PER_ROLE.get(role, 1)):
                ring.add(role, Ed25519PrivateKey.generate())
        return ring

    def key(self, keyid: str) -> Ed25519PrivateKey:
        """The private key with this id; the folder is read again when it is not known yet."""
        if keyid not in self._keys:
            self._keys = self._read()
        if keyid not in self._keys:
            raise LookupError(f"no private key {keyid[:16]}… in {self.folder}")
        return self._keys[keyid][1]

    def of_role(self, role: str) -> list[Ed25519PrivateKey]:
        """The keys whose file names give them ``role`` (a new repository starts with them)."""
        return [key for r, key, _ in self._keys.values() if r == role]

    def add(self, role: str, key: Ed25519PrivateKey) -> str:
        """Write a new key file (0600, never over an existing one); return its key id."""
        kid = key_id(key)
        path = self.folder / f"{role}-{kid[:16]}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_bytes_raw())
            fh.flush()
            os.fsync(fh.fileno())
        self._keys[kid] = (role, key, path)
        return kid

    def remove(self, keyids: list[str]) -> None:
        """Delete the files of keys no metadata names any more."""
        for kid in keyids:
            entry = self._keys.pop(kid, None)
            if entry is not None:
                entry[2].unlink(missing_ok=True)
