"""The store's catalog, read through TUF: the catalog document names each file's target, and
each file's digest, length and install entry come from that target's signed metadata."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate.client.account import Account
from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.client.trust import Descriptor, StoreTrust
from tollgate.runtime.home import ClientHome
from tollgate.wire.targets import CATALOG, FileTarget, parse_file_target
from tollgate.wire.text import did_you_mean


@dataclass(frozen=True)
class Catalog:
    store_id: str
    products: list[dict[str, Any]]

    def product(self, name: str) -> dict[str, Any]:
        for p in self.products:
            if p["name"] == name:
                return p
        names = [str(p["name"]) for p in self.products]
        raise UsageError(f"the store has no product {name!r}{did_you_mean(name, names)}")

    def addon(self, product: str, addon: str) -> dict[str, Any]:
        addons = self.product(product)["addons"]
        for a in addons:
            if a["name"] == addon:
                return dict(a)
        names = [str(a["name"]) for a in addons]
        raise UsageError(f"{product} has no add-on {addon!r}{did_you_mean(addon, names)}")


def _signed_file(
    trust: StoreTrust, product: dict[str, Any], addon: str | None, listed: dict[str, Any]
) -> dict[str, Any]:
    """A catalog file entry completed from its TUF target (never from the catalog alone); the
    target must be this product release's own file."""
    try:
        named = parse_file_target(str(listed["target"]))
    except ValueError as exc:
        raise IntegrityFailure(f"the catalog is malformed: {exc}") from exc
    expected = FileTarget(str(product["name"]), str(product["version"]), addon, listed["path"])
    info = trust.target(str(listed["target"]))
    entry = info.custom  # TUF does not check custom: any JSON value, or None
    if not isinstance(entry, dict) or named != expected or entry.get("name") != listed["path"]:
        raise IntegrityFailure(f"the catalog names {listed['target']} for another file")
    return {
        "path": listed["path"],
        "target": info.path,
        "digest": info.hashes["sha256"],
        "size": info.length,
        "encrypted": bool(entry.get("encrypted")),
        "entry": entry,
    }


def fetch_catalog(trust: StoreTrust, store_id: str) -> Catalog:
    body = trust.document(CATALOG)
    if body.get("type") != "catalog" or body.get("store_id") != store_id:
        raise IntegrityFailure("the catalog is for another store")
    try:
        products = list(body["products"])
        for p in products:
            p["core"] = [_signed_file(trust, p, None, f) for f in p["core"]]
            for a in p["addons"]:
                a["files"] = [_signed_file(trust, p, a["name"], f) for f in a["files"]]
    except (KeyError, TypeError) as exc:
        raise IntegrityFailure(f"the catalog is malformed: {exc}") from exc
    return Catalog(store_id, products)


def account_catalog(api: StoreAPI, home: ClientHome, account: Account) -> Catalog:
    """The catalog of a store the customer is registered with, through its pinned root."""
    return fetch_catalog(account.trust(api, home), account.store_id)


@dataclass(frozen=True)
class Browsed:
    store: Descriptor
    root_fingerprint: str
    catalog: Catalog


def browse(api: StoreAPI, expected_fingerprint: str | None) -> Browsed:
    """The catalog of a store not registered with: its first root taken on trust (or checked
    against ``expected_fingerprint``) for this one look, and nothing kept."""
    with tempfile.TemporaryDirectory(prefix="tollgate-browse-") as tmp:
        trust = StoreTrust.first_contact(api, Path(tmp), expected_fingerprint)
        descriptor = trust.descriptor()
        return Browsed(
            descriptor, trust.fingerprint or "", fetch_catalog(trust, descriptor.store_id)
        )
