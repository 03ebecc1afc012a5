"""Registration (DESIGN.md section 5): make K, a customer id and PK on this machine, seal
them with the personal and card details to the store, and keep K sealed to the binding."""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate.client.account import Account, accounts, tuf_dir
from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure, Refused, UsageError
from tollgate.client.trust import Descriptor, StoreTrust
from tollgate.crypto import CryptoError
from tollgate.crypto.documents import public_key_from_b64, verify_document
from tollgate.crypto.keyfile import Argon2Params, Binding, password_key, seal_key
from tollgate.crypto.keys import purchase_key
from tollgate.crypto.sealing import SealingPublicKey, sealing_info
from tollgate.files import write_atomic
from tollgate.runtime.home import ClientHome, write_json
from tollgate.runtime.machine import machine_id

MAX_ID_ATTEMPTS = 5


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    country: str
    card_number: str
    exp_month: int
    exp_year: int
    cvc: str


@dataclass(frozen=True)
class Registered:
    account: Account
    card: dict[str, str]


def new_customer_id() -> str:
    """128 random bits (the patent's time + machine recipe would reveal the machine)."""
    return "cu_" + secrets.token_hex(16)


def register(
    home: ClientHome,
    api: StoreAPI,
    details: Registration,
    *,
    binding: Binding,
    password: str | None,
    trust: str | None = None,
    check_store: Callable[[str, str, str], None] | None = None,
) -> Registered:
    """Register: the store's root is taken (or checked against ``trust``), ``check_store(name,
    store id, root fingerprint)`` may refuse it before anything personal is sent, then the
    sealed registration goes out and the key file is kept."""
    if binding.needs_password and not password:
        raise UsageError(f"binding {binding} needs a password")
    machine = machine_id()
    if binding.needs_machine and not machine:
        raise UsageError(
            "no machine id on this machine: set TOLLGATE_MACHINE_ID or choose --bind password"
        )
    fresh = not home.root.exists()
    home.root.mkdir(parents=True, exist_ok=True)
    try:
        return _register_here(home, api, details, binding, password, trust, check_store, machine)
    except BaseException:
        if fresh and not any(home.root.iterdir()):  # a refused registration leaves nothing
            home.root.rmdir()
        raise


def _register_here(
    home: ClientHome,
    api: StoreAPI,
    details: Registration,
    binding: Binding,
    password: str | None,
    trust: str | None,
    check_store: Callable[[str, str, str], None] | None,
    machine: str | None,
) -> Registered:
    with tempfile.TemporaryDirectory(dir=home.root, prefix=".contact-") as contact:
        store = StoreTrust.first_contact(api, Path(contact) / "tuf", trust)
        descriptor = store.descriptor()
        if any(a.store_id == descriptor.store_id for a in accounts(home)):
            raise UsageError(f"already registered with {descriptor.name} ({descriptor.store_id})")
        if check_store is not None:
            check_store(descriptor.name, descriptor.store_id, store.fingerprint or "")
        registered = _register(api, details, descriptor, binding, password, machine)
        account = Account(
            descriptor.store_id,
            descriptor.name,
            api.base_url,
            registered.customer_id,
            store.fingerprint or "",
            descriptor.licence_key,
        )
        target = tuf_dir(home, descriptor.store_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(store.metadata_dir, target)
    write_atomic(home.keyfile_path(descriptor.store_id), registered.keyfile)
    write_json(home.store_dir(descriptor.store_id) / "receipt.json", registered.receipt)
    account.save(home)
    return Registered(account, registered.card)


@dataclass(frozen=True)
class _Accepted:
    customer_id: str
    keyfile: bytes
    receipt: dict[str, Any]
    card: dict[str, str]


def _register(
    api: StoreAPI,
    details: Registration,
    descriptor: Descriptor,
    binding: Binding,
    password: str | None,
    machine: str | None,
) -> _Accepted:
    """Make K, the id and PK; seal them to the store; retry the id while it is taken."""
    customer_key = secrets.token_bytes(32)
    argon = Argon2Params(salt=secrets.token_bytes(16)) if password else None
    pw_key = password_key(argon, password)
    sealer = SealingPublicKey(descriptor.sealing_key)
    for _ in range(MAX_ID_ATTEMPTS):
        customer_id = new_customer_id()
        pk = purchase_key(customer_key, descriptor.store_id, customer_id, pw_key)
        nonce = secrets.token_urlsafe(24)
        inner = {
            "customer_id": customer_id,
            "customer_key": base64.b64encode(customer_key).decode(),
            "purchase_key": base64.b64encode(pk).decode(),
            "name": details.name,
            "email": details.email,
            "country": details.country,
            "card": {
                "number": details.card_number,
                "exp_month": details.exp_month,
                "exp_year": details.exp_year,
                "cvc": details.cvc,
            },
        }
        sealed = sealer.seal(
            json.dumps(inner).encode(),
            sealing_info("registration", descriptor.store_id, customer_id, nonce),
        )
        try:
            receipt = api.request(
                "POST",
                "/v1/registrations",
                body={
                    "store_id": descriptor.store_id,
                    "customer_id": customer_id,
                    "nonce": nonce,
                    "sealed": base64.b64encode(sealed).decode(),
                },
            )
            break
        except Refused as exc:
            if exc.code == "customer_id_taken":
                continue
            raise
    else:
        raise Refused("the store refused every customer id tried", code="customer_id_taken")
    try:
        body = verify_document(receipt, public_key_from_b64(descriptor.licence_key))
    except CryptoError as exc:
        raise IntegrityFailure(f"the registration receipt does not verify: {exc}") from exc
    if body.get("customer_id") != customer_id or body.get("store_id") != descriptor.store_id:
        raise IntegrityFailure("the registration receipt is for someone else")
    keyfile = seal_key(
        customer_key,
        store_id=descriptor.store_id,
        customer_id=customer_id,
        binding=binding,
        machine_id=machine,
        password=password,
        argon2=argon,
    )
    return _Accepted(customer_id, keyfile.to_bytes(), receipt, dict(body.get("card", {})))
