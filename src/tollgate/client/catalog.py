"""The store's catalog, verified against the pinned metadata key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollgate.client.account import Account
from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.crypto import CryptoError
from tollgate.crypto.documents import verify_document


@dataclass(frozen=True)
class Catalog:
    store_id: str
    products: list[dict[str, Any]]

    def product(self, name: str) -> dict[str, Any]:
        for p in self.products:
            if p["name"] == name:
                return p
        raise UsageError(f"the store has no product {name!r}")

    def addon(self, product: str, addon: str) -> dict[str, Any]:
        for a in self.product(product)["addons"]:
            if a["name"] == addon:
                return dict(a)
        raise UsageError(f"{product} has no add-on {addon!r}")


def fetch_catalog(api: StoreAPI, account: Account) -> Catalog:
    envelope = api.request("GET", "/v1/catalog")
    try:
        body = verify_document(envelope, account.metadata_public_key)
    except CryptoError as exc:
        raise IntegrityFailure(
            f"the catalog is not signed by the store's pinned key: {exc}"
        ) from exc
    if body.get("type") != "catalog" or body.get("store_id") != account.store_id:
        raise IntegrityFailure("the catalog is for another store")
    return Catalog(account.store_id, list(body["products"]))
