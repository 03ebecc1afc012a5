"""A customer's account with one store: where the store is, the TUF root pinned at
registration (kept in the account's ``tuf/`` folder, see client/trust.py), the licence key read
through it, the key file, and unlocking ``PK``.

The account file is read strictly: `Account.from_json`, `load_account` and `accounts` raise
`IntegrityFailure` naming the field (or the file) for a damaged one, never a KeyError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.client.trust import StoreTrust
from tollgate.crypto import CryptoError, bounded_json
from tollgate.crypto.documents import public_key_from_b64
from tollgate.crypto.keyfile import KeyFile, password_key, unseal_key
from tollgate.crypto.keys import purchase_key
from tollgate.runtime.home import ClientHome, read_json, write_json
from tollgate.runtime.machine import machine_id
from tollgate.wire.text import unstorable

FIELDS = ("store_id", "store_name", "url", "customer_id", "root_fingerprint", "licence_key")
MAX_FIELD = 2048


def tuf_dir(home: ClientHome, store_id: str) -> Path:
    return home.store_dir(store_id) / "tuf"


@dataclass(frozen=True)
class Account:
    store_id: str
    store_name: str
    url: str
    customer_id: str
    root_fingerprint: str
    licence_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "store_name": self.store_name,
            "url": self.url,
            "customer_id": self.customer_id,
            "root_fingerprint": self.root_fingerprint,
            "licence_key": self.licence_key,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Account:
        """An account file's fields, each text of at most ``MAX_FIELD`` characters with no
        control character; `IntegrityFailure` naming the first that is not."""
        if not isinstance(obj, dict):
            raise IntegrityFailure("the account file is damaged: it is not a JSON object")
        for name in FIELDS:
            value = obj.get(name)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_FIELD or unstorable(value):
                raise IntegrityFailure(
                    f"the account file is damaged: {name} is not text of 1 to {MAX_FIELD} "
                    "characters"
                )
        return cls(*(obj[name] for name in FIELDS))

    @property
    def licence_public_key(self) -> Ed25519PublicKey:
        return public_key_from_b64(self.licence_key)

    def trust(self, api: StoreAPI, home: ClientHome) -> StoreTrust:
        """The store's TUF repository as this account pinned it."""
        return StoreTrust(api, tuf_dir(home, self.store_id))

    def save(self, home: ClientHome) -> None:
        write_json(home.account_path(self.store_id), self.to_json())

    def unlock(self, home: ClientHome, password: str | None) -> Unlocked:
        """Open the key file with this machine (and password): ``K`` and ``PK`` derived from it."""
        try:
            kf = KeyFile.from_bytes(home.keyfile_path(self.store_id).read_bytes())
        except OSError as exc:
            raise UsageError(f"no key file for store {self.store_name}: register first") from exc
        except CryptoError as exc:
            raise IntegrityFailure(str(exc)) from exc
        if kf.argon2 is not None and password is None:
            raise UsageError(
                "this account has a password: give it with --password or TOLLGATE_PASSWORD"
            )
        pw_key = password_key(kf.argon2, password)
        try:
            customer_key = unseal_key(
                kf,
                machine_id=machine_id(),
                password_key=pw_key if kf.binding.needs_password else None,
            )
        except CryptoError as exc:
            raise IntegrityFailure(
                f"{exc}: purchases are possible only from the machine that registered"
            ) from exc
        return Unlocked(
            customer_key, purchase_key(customer_key, self.store_id, self.customer_id, pw_key)
        )

    def unlock_purchase_key(self, home: ClientHome, password: str | None) -> bytes:
        return self.unlock(home, password).purchase_key


@dataclass(frozen=True)
class Unlocked:
    """The customer's keys, opened for one command: ``K`` (licence keys derive from it) and the
    purchase key ``PK`` that signs requests."""

    customer_key: bytes
    purchase_key: bytes


def accounts(home: ClientHome) -> list[Account]:
    try:
        found = home.accounts()
    except bounded_json.BadJSON as exc:
        raise IntegrityFailure(f"an account file is damaged: {exc}") from exc
    return [Account.from_json(a) for a in found]


def match_account(home: ClientHome, store: str) -> Account | None:
    """The account for a store named by URL, id or name, if registered there."""
    for a in accounts(home):
        if store.rstrip("/") in (a.store_id, a.url.rstrip("/"), a.store_name):
            return a
    return None


def find_account(home: ClientHome, store: str | None) -> Account:
    """The account for a store URL or id; with one account, that one."""
    if store:
        match = match_account(home, store)
        if match is None:
            if not store.startswith(("http://", "https://")) and any(c in store for c in ".:/"):
                raise UsageError(
                    f"{store!r} is not a store URL (it starts with http:// or https://): did you "
                    f"mean http://{store}?"
                )
            raise UsageError(
                f"not registered with {store}: register first (`tollgate register URL`, the "
                "store's URL)"
            )
        return match
    found = accounts(home)
    if not found:
        raise UsageError("not registered with any store: run `tollgate register URL ...`")
    if len(found) > 1:
        names = ", ".join(a.url for a in found)
        raise UsageError(f"registered with several stores ({names}): choose one with --store")
    return found[0]


def load_account(home: ClientHome, store_id: str) -> Account:
    """The account with ``store_id`` (OSError when there is no account file)."""
    try:
        return Account.from_json(read_json(home.account_path(store_id)))
    except bounded_json.BadJSON as exc:
        raise IntegrityFailure(f"the account file is damaged: {exc}") from exc
