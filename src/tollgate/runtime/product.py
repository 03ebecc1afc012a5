"""``Product``: what core software uses to find, check and open its add-ons in memory.

Opening an add-on: read the licence → verify its signature (store's licence key, pinned at
registration), store and customer → unseal ``K`` from the key file with this machine's binding
→ unwrap each file's content key → check the vault file's stream header against the
licence's commitment → decrypt and authenticate every chunk in memory. Nothing decrypted is
written anywhere. ``K`` is never kept: only the licence's wrapping key is derived from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

from tollgate.crypto import CryptoError
from tollgate.crypto.documents import public_key_from_b64
from tollgate.crypto.keyfile import KeyFile, password_key, unseal_key
from tollgate.crypto.keys import licence_wrapping_key, unwrap_content_key
from tollgate.crypto.stream import StreamReader
from tollgate.runtime.errors import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    ProductAmbiguous,
    ProductNotInstalled,
)
from tollgate.runtime.home import ClientHome, machine_id, read_json
from tollgate.runtime.loader import import_package
from tollgate.runtime.state import BoughtAddOn, InstalledProduct, StateDamaged
from tollgate.wire.licence import Licence, parse_licence

PASSWORD_ENV = "TOLLGATE_PASSWORD"  # noqa: S105 (the name of a variable)


class Product:
    def __init__(
        self, home: ClientHome, installed: InstalledProduct, addons: dict[str, BoughtAddOn]
    ) -> None:
        self._home, self._installed, self._addons = home, installed, addons

    @classmethod
    def open(
        cls,
        name: str,
        *,
        home: str | os.PathLike[str] | None = None,
        store_id: str | None = None,
    ) -> Product:
        """Find an installed product by name; when several stores sold it, ``store_id`` (or
        `TOLLGATE_STORE_ID`) says which."""
        client_home = ClientHome(home)
        store_id = store_id or os.environ.get("TOLLGATE_STORE_ID")
        try:
            found = [
                p
                for p in client_home.state.products(name)
                if store_id is None or p.store_id == store_id
            ]
            if len(found) == 1:
                addons = client_home.state.addons(found[0].store_id, name)
        except StateDamaged as exc:
            raise ProductNotInstalled(str(exc)) from exc
        if not found:
            raise ProductNotInstalled(f"{name} is not installed: run `tollgate install {name}`")
        if len(found) > 1:
            stores = ", ".join(p.store_id for p in found)
            raise ProductAmbiguous(
                f"{name} is installed from several stores ({stores}): choose one with --store "
                "or TOLLGATE_STORE_ID"
            )
        return cls(client_home, found[0], addons)

    @property
    def name(self) -> str:
        return self._installed.name

    @property
    def path(self) -> Path:
        return self._installed.path

    @property
    def store_id(self) -> str:
        return self._installed.store_id

    @property
    def installed_entry(self) -> str:
        return self._installed.entry

    def has(self, addon: str) -> bool:
        """True if this machine holds a licence for the add-on (not yet checked: opening it
        checks everything and raises rather than fall back)."""
        return addon in self._addons

    def _account(self) -> dict[str, Any]:
        account: dict[str, Any] = read_json(self._home.account_path(self._installed.store_id))
        return account

    def _licence(self, addon: str) -> Licence:
        bought = self._addons.get(addon)
        if bought is None:
            raise AddOnNotLicensed(
                f"{self.name} add-on {addon!r} is not bought on this machine: "
                f"run `tollgate buy {self.name} {addon}`"
            )
        account = self._account()
        try:
            envelope = read_json(self._home.licence_path(account["store_id"], bought.licence_id))
            return parse_licence(
                envelope,
                public_key_from_b64(account["licence_key"]),
                store_id=account["store_id"],
                customer_id=account["customer_id"],
            )
        except (OSError, ValueError, CryptoError) as exc:
            raise AddOnIntegrityError(
                f"the licence for {self.name} {addon} failed its check ({exc}); "
                "reinstall it with `tollgate buy` (you will not be charged again)"
            ) from exc

    def _licence_wrapping_key(self, licence: Licence) -> bytes:
        """Unseal ``K`` with this machine's binding and derive the licence's KWK; ``K`` itself
        is not kept (the next add-on opened unseals it again)."""
        try:
            kf = KeyFile.from_bytes(self._home.keyfile_path(licence.store_id).read_bytes())
            pw = os.environ.get(PASSWORD_ENV) if kf.binding.needs_password else None
            customer_key = unseal_key(
                kf, machine_id=machine_id(), password_key=password_key(kf.argon2, pw)
            )
        except (OSError, CryptoError) as exc:
            raise AddOnIntegrityError(
                f"cannot open the add-ons of {self.name} here: {exc}. Add-ons run only "
                "on the machine that bought them (or with the key file's password)"
            ) from exc
        return licence_wrapping_key(
            customer_key, licence.store_id, licence.customer_id, licence.licence_id
        )

    def read_addon_files(self, addon: str) -> dict[str, bytes]:
        """Every file of a bought add-on, decrypted and authenticated in memory."""
        licence = self._licence(addon)
        kwk = self._licence_wrapping_key(licence)
        out: dict[str, bytes] = {}
        for f in licence.files:
            vault = self._home.vault_file(
                licence.store_id, licence.product, licence.addon, licence.version, f.digest
            )
            try:
                data = vault.read_bytes()
                content_key = unwrap_content_key(kwk, f.wrapped_key)
                reader = StreamReader(
                    content_key,
                    data,
                    expected_file_id=f.stream_id,
                    expected_commitment=f.commitment,
                )
                out[f.path] = reader.read_all()
            except (OSError, CryptoError) as exc:
                raise AddOnIntegrityError(
                    f"{self.name} add-on {addon}: {f.path} failed its check ({exc}); it will "
                    f"not run. Reinstall with `tollgate buy {self.name} {addon}`"
                ) from exc
        return out

    def import_module(self, addon: str) -> ModuleType:
        """Decrypt, verify and import the add-on's Python package from memory."""
        return import_package(f"{self.name}/{addon}", self.read_addon_files(addon))
