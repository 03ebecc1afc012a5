"""``Product``: what core software uses to find, check and open its add-ons in memory.

Opening an add-on: read the licence → verify its signature (the store's licence key, pinned at
registration), store, customer, product and add-on → unseal ``K`` from the key file with this
machine's binding and derive what is needed from it (each licence's wrapping key, the time-mark
key), then forget ``K`` → check the policy against the clock, the time mark, the OS release and
the uses made (runtime/policy.py) → unwrap each file's content key → check the vault file's
stream header against the licence's commitment → decrypt and authenticate every chunk in
memory. Nothing decrypted is written anywhere.
"""

from __future__ import annotations

import datetime as dt
import importlib.abc
import importlib.machinery
import os
import secrets
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tollgate.crypto import CryptoError
from tollgate.crypto.documents import public_key_from_b64
from tollgate.crypto.keyfile import KeyFile, password_key, unseal_key
from tollgate.crypto.keys import licence_wrapping_key, time_mark_key, unwrap_content_key
from tollgate.crypto.stream import StreamReader
from tollgate.runtime.background import USE_INTERVAL, request_sync
from tollgate.runtime.codecache import SealedCode
from tollgate.runtime.content import Content
from tollgate.runtime.errors import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    LicenceNotValid,
    OfflineUsesExhausted,
    PaymentDeclined,
    ProductAmbiguous,
    ProductNotInstalled,
    UsesExhausted,
)
from tollgate.runtime.home import ClientHome, read_json
from tollgate.runtime.loader import import_package, install_finder
from tollgate.runtime.machine import machine_id, os_release
from tollgate.runtime.meter import Meter
from tollgate.runtime.metering import RuntimeMeter
from tollgate.runtime.policy import Facts, check_licence
from tollgate.runtime.state import BoughtAddOn, InstalledProduct, OfferedAddOn
from tollgate.wire.addons import format_amount
from tollgate.wire.licence import Licence, parse_licence
from tollgate.wire.text import did_you_mean

PASSWORD_ENV = "TOLLGATE_PASSWORD"  # noqa: S105 (the name of a variable)
# The offline allowance of a metered licence signed before licences named theirs (the store's
# default, store/services/licences.py OFFLINE_USES).
DEFAULT_OFFLINE_USES = 20

Clock = Callable[[], dt.datetime]


def local_now() -> dt.datetime:
    """Now, aware, in the machine's time zone (the one a licence's hours are read in)."""
    return dt.datetime.now().astimezone()


@dataclass
class _Derived:
    """What the runtime keeps from ``K``: never ``K`` itself, never the purchase key."""

    wrapping_keys: dict[str, bytes]  # licence id -> KWK
    meter: RuntimeMeter  # holds the key that seals the meter


class Product:
    def __init__(
        self,
        home: ClientHome,
        installed: InstalledProduct,
        addons: dict[str, BoughtAddOn],
        offers: dict[str, OfferedAddOn],
        clock: Clock,
    ) -> None:
        self._home, self._installed, self._addons = home, installed, addons
        self._offers, self._clock = offers, clock
        self._hook: AddOnImporter | None = None
        self._derived: _Derived | None = None
        self._account_json: dict[str, Any] | None = None
        self._sync_requested = False

    @classmethod
    def open(
        cls,
        name: str,
        *,
        home: str | os.PathLike[str] | None = None,
        store_id: str | None = None,
        clock: Clock | None = None,
    ) -> Product:
        """Find an installed product by name; when several stores sold it, ``store_id`` (or
        `TOLLGATE_STORE_ID`) says which. ``clock`` returns an aware datetime (tests pass one)."""
        client_home = ClientHome(home)
        store_id = store_id or os.environ.get("TOLLGATE_STORE_ID")
        found = [
            p
            for p in client_home.state.products(name)
            if store_id is None or p.store_id == store_id
        ]
        if not found:
            installed = {p.name for p in client_home.state.products()}
            raise ProductNotInstalled(
                f"{name} is not installed: run `tollgate install {name}`"
                + did_you_mean(name, installed)
            )
        if len(found) > 1:
            stores = ", ".join(p.store_id for p in found)
            raise ProductAmbiguous(
                f"{name} is installed from several stores ({stores}): choose one with --store "
                "or TOLLGATE_STORE_ID"
            )
        state, store = client_home.state, found[0].store_id
        return cls(
            client_home,
            found[0],
            state.addons(store, name),
            state.offers(store, name),
            clock or local_now,
        )

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
        """True if the add-on may be used now: free and installed, or bought here with its
        licence genuine and its policy met. False if it is not bought or its licence does not
        allow it now (:meth:`check` says why); a damaged add-on or licence raises
        :class:`AddOnIntegrityError`."""
        try:
            self.check(addon)
        except (AddOnNotLicensed, LicenceNotValid):
            return False
        return True

    def check(self, addon: str) -> Licence | None:
        """The add-on's licence if it allows use now (None for a free add-on, which needs
        none); otherwise raise the reason (:class:`AddOnNotLicensed`, a
        :class:`LicenceNotValid`, :class:`AddOnIntegrityError`).

        The clock reading is recorded in the meter before the rules are checked, so a check
        that fails still raises the mark: a clock moved past a licence's end and back is
        refused."""
        if self._is_free(addon):
            return None
        licence = self._licence(addon)
        derived = self._derive()
        now = self._clock()
        if not derived.meter.on_disk and (licence.policy.uses or licence.policy.per_use):
            raise derived.meter.missing(f"{self.name} add-on {addon}")
        derived.meter.see(max(now, licence.issued_at))
        facts = Facts(
            now=now,
            mark=derived.meter.current.mark,
            os_release=os_release(),
            uses=derived.meter.current.totals.get(f"{self.name}/{addon}", 0),
        )
        check_licence(licence, facts)
        lease = licence.renew_by - licence.issued_at
        if now > licence.issued_at + lease / 2 and not self._sync_requested:
            self._sync_requested = request_sync(self._home.root)
        return licence

    def use(self, addon: str, name: str = "use") -> str:
        """Record one use of an add-on and return its event id (DESIGN.md "Metered use").

        The use is checked like any opening (licence, policy, a ``uses`` cap), refused while an
        earlier use's charge stands declined or while the licence's offline allowance of unsent
        uses is full, then written to the client state with a permanent id and the next number
        of the licence's sealed count (runtime/meter.py), in one transaction, before this
        returns, so it is never lost; the download program sends it, signed, in the background
        (or at the next `tollgate sync`), and the store charges each id once.
        """
        if not name or len(name) > 100:
            raise ValueError("a use's name is 1 to 100 characters")
        licence = self.check(addon)
        if licence is None:
            raise ValueError(f"{self.name} add-on {addon} is free: its uses are not metered")
        declined = self._home.state.uses(self.store_id, statuses=("declined",))
        if declined:
            owed = sum(u.amount for u in declined)
            raise PaymentDeclined(
                f"{len(declined)} earlier use(s) "
                f"({format_amount(owed, declined[0].currency)}) could not be "
                "charged: the card on file was declined. Once the card works, run "
                "`tollgate sync` and use it again"
            )
        amount, currency = licence.policy.per_use or (0, "")
        event_id = "use_" + secrets.token_hex(16)
        now = self._clock()
        order_id, policy = licence.order_id, licence.policy
        allowance = policy.offline_uses or (
            DEFAULT_OFFLINE_USES if policy.uses or policy.per_use else None
        )

        counted = f"{self.name}/{addon}"

        def record(conn: sqlite3.Connection, meter: Meter) -> None:
            seq = meter.uses.get(order_id, 0)
            if policy.uses is not None and meter.totals.get(counted, 0) >= policy.uses:
                raise UsesExhausted(
                    f"{self.name} add-on {addon}: all {policy.uses} uses the licence allows "
                    "are used"
                )
            if allowance is not None and meter.unsent(order_id) >= allowance:
                request_sync(self._home.root, USE_INTERVAL)
                raise OfflineUsesExhausted(
                    f"{self.name} add-on {addon}: {meter.unsent(order_id)} uses are waiting "
                    f"to reach the store, the most this licence allows ({allowance}). Go "
                    "online and run `tollgate sync`"
                )
            conn.execute(
                "INSERT INTO uses (event_id, store_id, product, addon, order_id, name, at, "
                "status, amount, currency, seq) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                (
                    *(event_id, self.store_id, self.name, addon, order_id, name),
                    *(now.isoformat(), amount, currency, seq),
                ),
            )
            meter.uses[order_id] = seq + 1
            meter.totals[counted] = meter.totals.get(counted, 0) + 1
            meter.seen(now)

        self._derive().meter.update(record)
        request_sync(self._home.root, USE_INTERVAL)
        return event_id

    def read_addon_files(self, addon: str) -> dict[str, bytes]:
        """Every file of an add-on: a bought one decrypted and authenticated in memory, a free
        one read from the product's folder (checked against its signed SHA-256 when it was
        installed, like the core)."""
        return self._open_addon(addon)[0]

    def _open_addon(self, addon: str) -> tuple[dict[str, bytes], dict[str, SealedCode]]:
        """The add-on's files, and for a bought one where each module's compiled code is kept
        sealed between runs (runtime/codecache.py)."""
        licence = self.check(addon)
        if licence is None:
            return self._free_files(addon), {}
        kwk = self._derive().wrapping_keys[licence.licence_id]
        out: dict[str, bytes] = {}
        sealed: dict[str, SealedCode] = {}
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
            if f.path.endswith(".py"):
                sealed[f.path] = SealedCode.beside(vault, content_key, f.digest)
        return out, sealed

    def open_content(self, addon: str, path: str | None = None) -> Content:
        """Random access to one file of an add-on (``path``, or its only file): a bought one
        is decrypted chunk by chunk as it is read, never whole. Close it when done."""
        licence = self.check(addon)
        if licence is None:
            rows = self._free_paths(addon)
            return Content.plain(rows[_one_path(self.name, addon, list(rows), path)])
        files = {f.path: f for f in licence.files}
        f = files[_one_path(self.name, addon, list(files), path)]
        vault = self._home.vault_file(
            licence.store_id, licence.product, licence.addon, licence.version, f.digest
        )
        try:
            content_key = unwrap_content_key(
                self._derive().wrapping_keys[licence.licence_id], f.wrapped_key
            )
            return Content.encrypted(
                vault, content_key, file_id=f.stream_id, commitment=f.commitment
            )
        except (OSError, ValueError, CryptoError) as exc:
            raise AddOnIntegrityError(
                f"{self.name} add-on {addon}: {f.path} failed its check ({exc}). Reinstall "
                f"with `tollgate buy {self.name} {addon}`"
            ) from exc

    def import_module(self, addon: str) -> ModuleType:
        """Decrypt, verify and import the add-on's Python package from memory."""
        return import_package(f"{self.name}/{addon}", *self._open_addon(addon))

    def enable_imports(self) -> Product:
        """Let ``import <package>`` load this product's add-ons: a bought (or free) add-on is
        opened as :meth:`import_module` would; one not bought raises
        :class:`AddOnNotLicensed` (an ImportError) naming what to buy. Returns ``self``.
        Replaces the hook of an earlier ``Product`` of the same product in this process."""
        if self._hook is None:
            sys.meta_path[:] = [
                f
                for f in sys.meta_path
                if not (isinstance(f, AddOnImporter) and f.serves(self.store_id, self.name))
            ]
            self._hook = AddOnImporter(self)
            sys.meta_path.append(self._hook)
        return self

    def offers(self) -> list[OfferedAddOn]:
        """Every add-on of the installed release, bought or not, by name: what the store
        offers (from the signed release), for a core that lists what can be bought."""
        return [self._offers[name] for name in sorted(self._offers)]

    def offer_for_package(self, package: str) -> OfferedAddOn | None:
        return next((o for o in self._offers.values() if o.package == package), None)

    # -- free add-ons -------------------------------------------------------------------------

    def _is_free(self, addon: str) -> bool:
        offer = self._offers.get(addon)
        return offer is not None and offer.free and addon not in self._addons

    def _free_paths(self, addon: str) -> dict[str, Path]:
        """A free add-on's installed files, by name (installed openly, like the core)."""
        rows = {
            f.name: f.path
            for f in self._home.state.files(self.store_id, self.name)
            if f.addon == addon and f.licence_id is None
        }
        if not rows:
            raise AddOnNotLicensed(
                f"{self.name} add-on {addon} is free but not installed: run "
                f"`tollgate update {self.name}`"
            )
        return rows

    def _free_files(self, addon: str) -> dict[str, bytes]:
        try:
            return {name: path.read_bytes() for name, path in self._free_paths(addon).items()}
        except OSError as exc:
            raise AddOnIntegrityError(
                f"{self.name} add-on {addon} is missing files ({exc}): run "
                f"`tollgate update {self.name}`"
            ) from exc

    # -- licences and keys --------------------------------------------------------------------

    def _account(self) -> dict[str, Any]:
        """The account file (pinned licence key, customer id), read once per Product."""
        if self._account_json is None:
            self._account_json = read_json(self._home.account_path(self.store_id))
        return self._account_json

    def _licence(self, addon: str) -> Licence:
        bought = self._addons.get(addon)
        if bought is None:
            offer = self._offers.get(addon)
            price = "" if offer is None else f" ({offer.terms})"
            raise AddOnNotLicensed(
                f"{self.name} add-on {addon!r}{price} is not bought on this machine: "
                f"run `tollgate buy {self.name} {addon}`"
            )
        try:
            account = self._account()
            envelope = read_json(self._home.licence_path(self.store_id, bought.licence_id))
            licence = parse_licence(
                envelope,
                public_key_from_b64(account["licence_key"]),
                store_id=self.store_id,
                customer_id=account["customer_id"],
            )
            if (licence.product, licence.addon, licence.licence_id) != (
                self.name,
                addon,
                bought.licence_id,
            ):
                raise ValueError(f"it is the licence of {licence.product} {licence.addon}")
        except (OSError, ValueError, KeyError, CryptoError) as exc:
            raise AddOnIntegrityError(
                f"the licence for {self.name} {addon} failed its check ({exc}); "
                "reinstall it with `tollgate buy` (you will not be charged again)"
            ) from exc
        return licence

    def _derive(self) -> _Derived:
        """Unseal ``K`` once with this machine's binding, derive every held licence's wrapping
        key and the time-mark key, read the mark, and let ``K`` go."""
        if self._derived is not None:
            return self._derived
        account = self._account()
        store_id, customer_id = self.store_id, str(account["customer_id"])
        try:
            kf = KeyFile.from_bytes(self._home.keyfile_path(store_id).read_bytes())
            pw = os.environ.get(PASSWORD_ENV) if kf.binding.needs_password else None
            customer_key = unseal_key(
                kf, machine_id=machine_id(), password_key=password_key(kf.argon2, pw)
            )
        except (OSError, CryptoError) as exc:
            raise AddOnIntegrityError(
                f"cannot open the add-ons of {self.name} here: {exc}. Add-ons run only "
                "on the machine that bought them (or with the key file's password)"
            ) from exc
        mark_key = time_mark_key(customer_key, store_id, customer_id)
        wrapping = {
            b.licence_id: licence_wrapping_key(customer_key, store_id, customer_id, b.licence_id)
            for b in self._addons.values()
        }
        del customer_key
        meter = RuntimeMeter(self._home.state, mark_key, store_id, customer_id, self.name)
        self._derived = _Derived(wrapping, meter)
        return self._derived


def _one_path(product: str, addon: str, paths: list[str], path: str | None) -> str:
    if path is None and len(paths) == 1:
        return paths[0]
    if path in paths:
        return path
    raise FileNotFoundError(
        f"{product} add-on {addon} has "
        + (f"no file {path!r}" if path else "several files: name one")
        + f" (it has: {', '.join(sorted(paths)) or 'none'})"
    )


class AddOnImporter(importlib.abc.MetaPathFinder):
    """The import hook of :meth:`Product.enable_imports`: answers only for the top-level
    packages the product's add-ons provide (from the signed release, kept in the state)."""

    def __init__(self, product: Product) -> None:
        self._product = product

    def serves(self, store_id: str, name: str) -> bool:
        return (self._product.store_id, self._product.name) == (store_id, name)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        offer = self._product.offer_for_package(fullname.partition(".")[0])
        if offer is None:
            return None
        try:
            files, sealed = self._product._open_addon(offer.addon)
        except AddOnNotLicensed as exc:
            raise AddOnNotLicensed(
                f"`import {fullname}` needs the {offer.product} add-on {offer.addon!r} "
                f"({offer.terms}): run `tollgate buy {offer.product} "
                f"{offer.addon}`",
                name=fullname,
            ) from exc
        finder = install_finder(f"{offer.product}/{offer.addon}", files, sealed)
        return finder.find_spec(fullname, path, target)
