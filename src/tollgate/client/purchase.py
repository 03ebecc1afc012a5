"""Buying an add-on: a signed order, the licence checked, the encrypted files into the vault.

The order carries a fresh Idempotency-Key; the store keeps one order per (customer, add-on
release), so running ``buy`` again after a broken download returns the same licence and
charges nothing more.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tollgate.client.account import Account
from tollgate.client.api import Progress, Signer, StoreAPI
from tollgate.client.catalog import Catalog
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.client.install import product_key
from tollgate.crypto import CryptoError
from tollgate.runtime.home import ClientHome, write_json
from tollgate.wire.licence import parse_licence


@dataclass(frozen=True)
class Purchase:
    order_id: str
    amount: int
    currency: str
    charge_id: str | None
    licence_id: str
    files: int


def buy(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    catalog: Catalog,
    product: str,
    addon: str,
    *,
    purchase_key: bytes,
    progress: Progress | None = None,
) -> Purchase:
    state = home.load_state()
    installed = state["products"].get(product_key(account.store_id, product))
    if installed is None:
        raise UsageError(f"install {product} first: `tollgate install {product}`")
    info = catalog.addon(product, addon)
    version = catalog.product(product)["version"]
    signer = Signer(account.customer_id, purchase_key)
    outcome: dict[str, Any] = api.request(
        "POST",
        "/v1/orders",
        body={"product": product, "addon": addon, "version": version},
        signer=signer,
        headers={"Idempotency-Key": "idem_" + secrets.token_hex(16)},
    )
    try:
        licence = parse_licence(
            outcome["licence"],
            account.licence_public_key,
            store_id=account.store_id,
            customer_id=account.customer_id,
        )
    except (KeyError, CryptoError) as exc:
        raise IntegrityFailure(f"the store's licence does not verify: {exc}") from exc
    if (licence.product, licence.addon, licence.version) != (product, addon, version):
        raise IntegrityFailure("the store sent a licence for something else")
    for f in licence.files:
        target = home.vault_file(account.store_id, product, addon, version, f.digest)
        if not target.exists():
            api.download(f.digest, target, size=f.size, signer=signer, progress=progress)
    write_json(home.licence_path(account.store_id, licence.licence_id), outcome["licence"])
    state = home.load_state()
    entry = state["products"][product_key(account.store_id, product)]
    entry.setdefault("addons", {})[addon] = {
        "version": version,
        "licence_id": licence.licence_id,
        "function": info["function"],
        "revision": info["revision"],
        "order_id": outcome["order_id"],
    }
    home.save_state(state)
    return Purchase(
        outcome["order_id"],
        int(outcome["amount"]),
        str(outcome["currency"]),
        outcome.get("charge_id"),
        licence.licence_id,
        len(licence.files),
    )
