"""``tollgate uninstall``: remove a product's core from this machine.

The product's row, its openly installed files and the add-ons its release offered leave the
state in one transaction, then its folder goes (a crash in between leaves only files no row
names, which the next install replaces). What was bought is not touched: the add-ons' rows,
licences and encrypted vault files stay, so a later ``tollgate install`` brings the product
back with them, charging nothing, and ``tollgate sync`` keeps their leases renewed meanwhile.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from tollgate.client.errors import UsageError
from tollgate.runtime.home import ClientHome
from tollgate.runtime.state import record_history


@dataclass(frozen=True)
class Uninstalled:
    product: str
    version: str
    files: int  # openly installed files removed
    kept_addons: list[str]  # bought add-ons that stay bought (and in the vault)

    def to_json(self) -> dict[str, object]:
        return self.__dict__


def uninstall(home: ClientHome, store_id: str, product: str) -> Uninstalled:
    state = home.state
    installed = state.product(store_id, product)
    if installed is None:
        raise UsageError(f"{product} is not installed")
    if any(e.store_id == store_id and e.product == product for e in state.journal()):
        raise UsageError(f"an install of {product} was interrupted: run `tollgate install` first")
    kept = sorted(state.addons(store_id, product))
    with state.transaction() as conn:
        removed = conn.execute(
            "DELETE FROM files WHERE store_id = ? AND product = ? AND licence_id IS NULL",
            (store_id, product),
        ).rowcount
        conn.execute("DELETE FROM offers WHERE store_id = ? AND product = ?", (store_id, product))
        conn.execute("DELETE FROM products WHERE store_id = ? AND name = ?", (store_id, product))
        record_history(
            conn,
            store_id,
            product,
            "uninstall",
            installed.version,
            f"kept bought add-ons: {', '.join(kept)}" if kept else "",
        )
    shutil.rmtree(home.product_dir(store_id, product, installed.version).parent, ignore_errors=True)
    return Uninstalled(product, installed.version, removed, kept)
