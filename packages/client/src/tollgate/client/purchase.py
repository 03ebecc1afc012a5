"""Buying an add-on: a signed order, the licence checked, the encrypted files into the vault.

The order carries a fresh Idempotency-Key; the store keeps one order per (customer, add-on
release), so running ``buy`` again after a broken download returns the same licence and
charges nothing more.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate.client.account import Account, Unlocked
from tollgate.client.api import Progress, Signer, StoreAPI
from tollgate.client.catalog import Catalog
from tollgate.client.download import fetch_file, signed_parts
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.client.meter import start_meter
from tollgate.crypto import CryptoError
from tollgate.runtime.home import ClientHome, write_json
from tollgate.runtime.machine import os_release
from tollgate.runtime.state import record_history
from tollgate.wire.licence import Licence, parse_licence


@dataclass(frozen=True)
class Purchase:
    order_id: str
    amount: int
    currency: str
    charge_id: str | None
    licence_id: str
    files: int


@dataclass(frozen=True)
class VaultFile:
    """An add-on file in the vault, as the client state records it."""

    name: str
    path: Path
    digest: str
    size: int
    target: str


def place_order(
    api: StoreAPI,
    account: Account,
    signer: Signer,
    product: str,
    addon: str,
    version: str,
    *,
    upgrade: bool = False,
) -> tuple[dict[str, Any], Licence]:
    """Order an add-on of one release and check the licence that comes back. With ``upgrade``
    the store makes only a free update of a revision already bought (never a charge)."""
    outcome: dict[str, Any] = api.request(
        "POST",
        "/v1/orders",
        body={
            "product": product,
            "addon": addon,
            "version": version,
            "upgrade": upgrade,
            "os_release": os_release(),
        },
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
    if upgrade and outcome.get("amount") != 0:
        raise IntegrityFailure(
            f"the store answered an update with a charge of {outcome.get('amount')} "
            f"{outcome.get('currency')}: report this to the store"
        )
    return outcome, licence


def record_addon(
    home: ClientHome,
    account: Account,
    outcome: dict[str, Any],
    licence: Licence,
    *,
    function: str,
    revision: int,
    files: list[VaultFile],
    action: str,
    detail: str,
) -> None:
    """Keep the licence, then switch the add-on, its files and the history in one transaction."""
    write_json(home.licence_path(account.store_id, licence.licence_id), outcome["licence"])
    store_id, product, addon = account.store_id, licence.product, licence.addon
    with home.state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO addons (store_id, product, addon, version, function, "
            "revision, licence_id, order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                store_id,
                product,
                addon,
                licence.version,
                function,
                revision,
                licence.licence_id,
                outcome["order_id"],
            ),
        )
        conn.execute(
            "DELETE FROM files WHERE store_id = ? AND product = ? AND addon = ?",
            (store_id, product, addon),
        )
        for f in files:
            conn.execute(
                "INSERT INTO files (store_id, product, kind, addon, name, version, function, "
                "revision, path, digest, size, target, licence_id) "
                "VALUES (?, ?, 'add-on', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    store_id,
                    product,
                    addon,
                    f.name,
                    licence.version,
                    function,
                    revision,
                    str(f.path),
                    f.digest,
                    f.size,
                    f.target,
                    licence.licence_id,
                ),
            )
        record_history(conn, store_id, product, action, licence.version, detail)


def buy(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    catalog: Catalog,
    product: str,
    addon: str,
    *,
    keys: Unlocked,
    progress: Progress | None = None,
) -> Purchase:
    """Order the add-on (charged once), fetch its encrypted files into the vault, keep the
    licence, and start the store's meter if this machine has none (client/meter.py)."""
    if home.state.product(account.store_id, product) is None:
        raise UsageError(f"install {product} first: `tollgate install {product}`")
    info = catalog.addon(product, addon)
    version = catalog.product(product)["version"]
    signer = Signer(account.customer_id, keys.purchase_key)
    outcome, licence = place_order(api, account, signer, product, addon, version)
    signed = {f["digest"]: f for f in info["files"]}
    vault = []
    for f in licence.files:
        if f.digest not in signed:
            raise IntegrityFailure(f"the licence names {f.path}, which TUF does not list")
        entry = signed[f.digest]
        target = home.vault_file(account.store_id, product, addon, version, f.digest)
        vault.append(VaultFile(f.path, target, f.digest, entry["size"], entry["target"]))
        if not target.exists():
            try:
                parts = signed_parts(entry["entry"]["parts"], entry["size"], f.digest)
            except (KeyError, TypeError, ValueError) as exc:
                raise IntegrityFailure(f"the signed parts of {f.path} are unusable: {exc}") from exc
            fetch_file(api, f.digest, parts, target, signer=signer, progress=progress)
    record_addon(
        home,
        account,
        outcome,
        licence,
        function=info["function"],
        revision=info["revision"],
        files=vault,
        action="buy",
        detail=f"{addon} (order {outcome['order_id']})",
    )
    start_meter(home, account, keys, licence.issued_at)
    return Purchase(
        outcome["order_id"],
        int(outcome["amount"]),
        str(outcome["currency"]),
        outcome.get("charge_id"),
        licence.licence_id,
        len(licence.files),
    )
