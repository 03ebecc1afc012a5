"""The key file: the customer key ``K`` sealed on disk under the chosen binding.

KEK = HKDF-SHA256(binding inputs, salt = random 32 bytes kept in the file,
info = ``tollgate/v1/keyfile`` ‖ store id ‖ customer id); ``K`` is sealed with AES-256-GCM
under KEK with the canonical JSON of the file's header as associated data, so no header
field (binding, ids, salts) can be changed without the file failing to open.

Bindings (DESIGN.md section 4): ``machine`` (the machine id), ``password`` (Argon2id of the
password with its own salt), ``machine+password`` and ``none``. ``none`` protects nothing and
exists for throwaway environments.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from tollgate.crypto import canonical
from tollgate.crypto.errors import BindingError, IntegrityError
from tollgate.crypto.kdf import hkdf

FORMAT = "tollgate-keyfile/1"


class Binding(StrEnum):
    MACHINE = "machine"
    PASSWORD = "password"  # noqa: S105 (a binding name, not a secret)
    MACHINE_PASSWORD = "machine+password"  # noqa: S105
    NONE = "none"

    @property
    def needs_password(self) -> bool:
        return self in (Binding.PASSWORD, Binding.MACHINE_PASSWORD)

    @property
    def needs_machine(self) -> bool:
        return self in (Binding.MACHINE, Binding.MACHINE_PASSWORD)


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id parameters (RFC 9106's second recommended option, memory-hard)."""

    salt: bytes
    memory_cost: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    def derive(self, password: str) -> bytes:
        return Argon2id(
            salt=self.salt,
            length=32,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_cost,
        ).derive(password.encode())

    def to_json(self) -> dict[str, Any]:
        return {
            "salt": _b64(self.salt),
            "memory_cost": self.memory_cost,
            "iterations": self.iterations,
            "lanes": self.lanes,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Argon2Params:
        return cls(
            _unb64(obj["salt"]), int(obj["memory_cost"]), int(obj["iterations"]), int(obj["lanes"])
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True)
class KeyFile:
    """A parsed key file. ``argon2`` is present when a password is involved (binding or PK)."""

    store_id: str
    customer_id: str
    binding: Binding
    salt: bytes
    nonce: bytes
    ciphertext: bytes
    argon2: Argon2Params | None

    def header(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "format": FORMAT,
            "store_id": self.store_id,
            "customer_id": self.customer_id,
            "binding": str(self.binding),
            "salt": _b64(self.salt),
            "nonce": _b64(self.nonce),
        }
        if self.argon2 is not None:
            head["argon2"] = self.argon2.to_json()
        return head

    def to_bytes(self) -> bytes:
        doc = self.header() | {"ciphertext": _b64(self.ciphertext)}
        return json.dumps(doc, indent=2).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyFile:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise IntegrityError("not a Tollgate key file")
            argon = doc.get("argon2")
            return cls(
                store_id=str(doc["store_id"]),
                customer_id=str(doc["customer_id"]),
                binding=Binding(doc["binding"]),
                salt=_unb64(doc["salt"]),
                nonce=_unb64(doc["nonce"]),
                ciphertext=_unb64(doc["ciphertext"]),
                argon2=Argon2Params.from_json(argon) if argon else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError("key file is malformed") from exc


def _binding_inputs(binding: Binding, machine_id: str | None, password_key: bytes | None) -> bytes:
    parts: list[bytes] = []
    if binding.needs_machine:
        if not machine_id:
            raise BindingError("this key file is bound to a machine, but no machine id is known")
        parts.append(b"machine:" + machine_id.encode())
    if binding.needs_password:
        if password_key is None:
            raise BindingError("this key file needs its password")
        parts.append(b"password:" + password_key)
    return b"".join(len(p).to_bytes(2, "big") + p for p in parts)


def _kek(kf_store: str, kf_customer: str, salt: bytes, inputs: bytes) -> AESGCM:
    return AESGCM(hkdf(inputs, purpose="keyfile", parts=(kf_store, kf_customer), salt=salt))


def password_key(argon2: Argon2Params | None, password: str | None) -> bytes | None:
    """Argon2id of the password, or ``None`` when no password is involved."""
    if password is None or argon2 is None:
        return None
    return argon2.derive(password)


def seal_key(
    key: bytes,
    *,
    store_id: str,
    customer_id: str,
    binding: Binding,
    machine_id: str | None,
    password: str | None,
    argon2: Argon2Params | None = None,
) -> KeyFile:
    """Seal ``key`` (the customer key K) to the binding."""
    if binding.needs_password and password is None:
        raise ValueError(f"binding {binding} needs a password")
    if password is not None and argon2 is None:
        argon2 = Argon2Params(salt=os.urandom(16))
    pw_key = password_key(argon2, password) if binding.needs_password else None
    inputs = _binding_inputs(binding, machine_id, pw_key)
    salt, nonce = os.urandom(32), os.urandom(12)
    draft = KeyFile(store_id, customer_id, binding, salt, nonce, b"", argon2)
    aad = canonical.dumps(draft.header())
    ct = _kek(store_id, customer_id, salt, inputs).encrypt(nonce, key, aad)
    return KeyFile(store_id, customer_id, binding, salt, nonce, ct, argon2)


def unseal_key(kf: KeyFile, *, machine_id: str | None, password_key: bytes | None) -> bytes:
    """Open a key file. Raises :class:`BindingError` on the wrong machine or password."""
    inputs = _binding_inputs(kf.binding, machine_id, password_key)
    aad = canonical.dumps(kf.header())
    try:
        return _kek(kf.store_id, kf.customer_id, kf.salt, inputs).decrypt(
            kf.nonce, kf.ciphertext, aad
        )
    except InvalidTag as exc:
        what = {
            Binding.MACHINE: "this machine (the key file was made on another machine)",
            Binding.PASSWORD: "this password",
            Binding.MACHINE_PASSWORD: "this machine and password",
            Binding.NONE: "its own header (the file was altered)",
        }[kf.binding]
        raise BindingError(f"the key file cannot be opened with {what}") from exc
