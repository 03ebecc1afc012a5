"""The key file: the customer key ``K`` sealed on disk under the chosen binding.

KEK = HKDF-SHA256(binding inputs, salt = random 32 bytes kept in the file,
info = ``tollgate/v1/keyfile`` ‖ store id ‖ customer id); ``K`` is sealed with AES-256-GCM
under KEK with the canonical JSON of the file's header as associated data, so no header
field (binding, ids, salts) can be changed without the file failing to open.

Bindings (DESIGN.md section 4): ``machine`` (the machine id), ``password`` (Argon2id of the
password with its own salt), ``machine+password`` and ``none``. ``none`` protects nothing and
exists for throwaway environments.

Reading a key file (`KeyFile.from_bytes`) raises only `IntegrityError`, naming what is wrong.
What a file may ask for is bounded, since a key file can come from anywhere (a copied folder,
a backup): at most 64 KiB of JSON nested at most 32 levels; ``salt`` exactly 32 bytes,
``nonce`` exactly 12, ``ciphertext`` 16 to 1024 bytes; ids 1 to 200 printable characters;
and Argon2id parameters within

    salt          8 to 64 bytes
    lanes         1 to 16
    iterations    1 to 10
    memory_cost   8 × lanes to 262 144 KiB (256 MiB)

so opening a file costs at most a few seconds and 256 MiB, whatever it says. The file written
by `seal_key` (64 MiB, 3 iterations, 4 lanes, a 16-byte salt) is well inside them.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from tollgate.crypto import bounded_json, canonical
from tollgate.crypto.errors import BindingError, IntegrityError
from tollgate.crypto.kdf import hkdf

FORMAT = "tollgate-keyfile/1"
MAX_KEYFILE = 64 * 1024
FIELDS = {"format", "store_id", "customer_id", "binding", "salt", "nonce", "argon2", "ciphertext"}
SALT_SIZE = 32
NONCE_SIZE = 12
CIPHERTEXT_SIZES = (16, 1024)  # the AES-GCM tag alone, up to far more than any key
MAX_ID = 200
# A store or customer id: printable ASCII, no space (ids are generated: st_…, cu_…).
_ID = re.compile(rf"[!-~]{{1,{MAX_ID}}}")
ARGON2_SALT_SIZES = (8, 64)
ARGON2_LANES = (1, 16)
ARGON2_ITERATIONS = (1, 10)
ARGON2_MAX_MEMORY = 256 * 1024  # KiB; Argon2 itself needs at least 8 KiB per lane


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

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """What puts these parameters outside the documented bounds, or ``None``."""
        for name, value, (low, high) in (
            ("salt", len(self.salt), ARGON2_SALT_SIZES),
            ("lanes", self.lanes, ARGON2_LANES),
            ("iterations", self.iterations, ARGON2_ITERATIONS),
            ("memory_cost", self.memory_cost, (8 * self.lanes, ARGON2_MAX_MEMORY)),
        ):
            if not low <= value <= high:
                unit = " bytes long" if name == "salt" else ""
                return f"argon2 {name} must be {low} to {high}{unit}, not {value}"
        return None

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
    def from_json(cls, obj: Any) -> Argon2Params:
        """Parameters read from a key file; `IntegrityError` unless within the bounds above."""
        if not isinstance(obj, dict) or set(obj) != {"salt", "memory_cost", "iterations", "lanes"}:
            raise IntegrityError(
                "key file is malformed: argon2 must hold salt, memory_cost, iterations, lanes"
            )
        numbers = [obj[k] for k in ("memory_cost", "iterations", "lanes")]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            raise IntegrityError("key file is malformed: argon2 parameters must be whole numbers")
        salt = _unb64(obj["salt"], "argon2.salt")
        try:
            return cls(salt, *numbers)
        except ValueError as exc:
            raise IntegrityError(f"key file is malformed: {exc}") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, field: str, sizes: tuple[int, int] | None = None) -> bytes:
    """Base64 of a field, of a length within ``sizes``; `IntegrityError` naming the field."""
    if not isinstance(text, str) or len(text) > 2 * MAX_KEYFILE:
        raise IntegrityError(f"key file is malformed: {field} must be base64 text")
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as exc:  # binascii.Error, and ValueError itself for non-ASCII text
        raise IntegrityError(f"key file is malformed: {field} is not base64") from exc
    if sizes is not None and not sizes[0] <= len(data) <= sizes[1]:
        want = sizes[0] if sizes[0] == sizes[1] else f"{sizes[0]} to {sizes[1]}"
        raise IntegrityError(
            f"key file is malformed: {field} must be {want} bytes, not {len(data)}"
        )
    return data


def _id(doc: dict[str, Any], field: str) -> str:
    value = doc.get(field)
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise IntegrityError(
            f"key file is malformed: {field} must be 1 to {MAX_ID} printable characters"
        )
    return value


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
        """Parse a key file; `IntegrityError` (saying what is wrong) for anything else."""
        try:
            doc = bounded_json.loads(data, max_size=MAX_KEYFILE)
        except bounded_json.BadJSON as exc:
            raise IntegrityError(f"key file is malformed: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise IntegrityError("not a Tollgate key file")
        unknown = sorted(set(doc) - FIELDS)
        if unknown:  # not covered by the seal's associated data: refused, not ignored
            raise IntegrityError(f"key file is malformed: unknown field {unknown[0][:40]!r}")
        try:
            binding = Binding(str(doc.get("binding")))
        except ValueError as exc:
            raise IntegrityError(
                f"key file is malformed: binding must be one of {', '.join(Binding)}"
            ) from exc
        argon = doc.get("argon2")
        argon2 = None if argon is None else Argon2Params.from_json(argon)
        if binding.needs_password and argon2 is None:
            raise IntegrityError(f"key file is malformed: binding {binding} needs argon2")
        return cls(
            store_id=_id(doc, "store_id"),
            customer_id=_id(doc, "customer_id"),
            binding=binding,
            salt=_unb64(doc.get("salt"), "salt", (SALT_SIZE, SALT_SIZE)),
            nonce=_unb64(doc.get("nonce"), "nonce", (NONCE_SIZE, NONCE_SIZE)),
            ciphertext=_unb64(doc.get("ciphertext"), "ciphertext", CIPHERTEXT_SIZES),
            argon2=argon2,
        )


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
