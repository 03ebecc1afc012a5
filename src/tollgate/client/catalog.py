"""The store's catalog, verified against the store's metadata key: the one pinned at
registration, or before registering, the one the store's descriptor presents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.crypto import CryptoError
from tollgate.crypto.documents import public_key_from_b64, verify_document


class StoreIdentity(Protocol):
    """What a catalog is checked against: an `Account` or, before registering, a `Descriptor`."""

    @property
    def store_id(self) -> str: ...

    @property
    def metadata_key(self) -> str: ...


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


def fetch_catalog(api: StoreAPI, store: StoreIdentity) -> Catalog:
    envelope = api.request("GET", "/v1/catalog")
    try:
        body = verify_document(envelope, public_key_from_b64(store.metadata_key))
    except CryptoError as exc:
        raise IntegrityFailure(f"the catalog is not signed by the store's key: {exc}") from exc
    if body.get("type") != "catalog" or body.get("store_id") != store.store_id:
        raise IntegrityFailure("the catalog is for another store")
    return Catalog(store.store_id, list(body["products"]))
