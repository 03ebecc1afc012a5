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
from tollgate.client.download import fetch_file, signed_parts
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.crypto import CryptoError
from tollgate.runtime.home import ClientHome, write_json
from tollgate.runtime.state import record_history
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
    if home.state.product(account.store_id, product) is None:
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
    signed = {f["digest"]: f for f in info["files"]}
    vault = []
    for f in licence.files:
        if f.digest not in signed:
            raise IntegrityFailure(f"the licence names {f.path}, which TUF does not list")
        target = home.vault_file(account.store_id, product, addon, version, f.digest)
        vault.append((f.path, target, signed[f.digest]))
        if not target.exists():
            entry = signed[f.digest]
            try:
                parts = signed_parts(entry["entry"]["parts"], entry["size"], f.digest)
            except (KeyError, TypeError, ValueError) as exc:
                raise IntegrityFailure(f"the signed parts of {f.path} are unusable: {exc}") from exc
            fetch_file(api, f.digest, parts, target, signer=signer, progress=progress)
    write_json(home.licence_path(account.store_id, licence.licence_id), outcome["licence"])
    with home.state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO addons (store_id, product, addon, version, function, "
            "revision, licence_id, order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account.store_id,
                product,
                addon,
                version,
                info["function"],
                info["revision"],
                licence.licence_id,
                outcome["order_id"],
            ),
        )
        conn.execute(
            "DELETE FROM files WHERE store_id = ? AND product = ? AND addon = ?",
            (account.store_id, product, addon),
        )
        for name, target, f in vault:
            conn.execute(
                "INSERT INTO files (store_id, product, kind, addon, name, version, function, "
                "revision, path, digest, size, target, licence_id) "
                "VALUES (?, ?, 'add-on', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account.store_id,
                    product,
                    addon,
                    name,
                    version,
                    info["function"],
                    info["revision"],
                    str(target),
                    f["digest"],
                    f["size"],
                    f["target"],
                    licence.licence_id,
                ),
            )
        record_history(
            conn,
            account.store_id,
            product,
            "buy",
            version,
            f"{addon} (order {outcome['order_id']})",
        )
    return Purchase(
        outcome["order_id"],
        int(outcome["amount"]),
        str(outcome["currency"]),
        outcome.get("charge_id"),
        licence.licence_id,
        len(licence.files),
    )
