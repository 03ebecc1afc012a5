"""The store descriptor and the catalog: public documents signed with the metadata key."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.crypto.documents import public_key_b64, sign_document
from tollgate.store.db import Product, Release
from tollgate.store.folder import StoreKeys


def descriptor(keys: StoreKeys, *, store_id: str, name: str) -> dict[str, Any]:
    body = {
        "type": "store-descriptor",
        "format": 1,
        "store_id": store_id,
        "name": name,
        "sealing_key": base64.b64encode(keys.sealing.public_key().raw).decode(),
        "licence_key": public_key_b64(keys.licence.public_key()),
        "metadata_key": public_key_b64(keys.metadata.public_key()),
    }
    return sign_document(body, keys.metadata)


def latest_release(product: Product) -> Release | None:
    return max(product.releases, key=lambda r: Version(r.version), default=None)


def _release_json(release: Release) -> dict[str, Any]:
    def files(addon_name: str | None) -> list[dict[str, Any]]:
        return [
            {"path": f.path, "digest": f.digest, "size": f.size, "encrypted": f.encrypted}
            for f in sorted(release.files, key=lambda f: f.path)
            if f.addon_name == addon_name
        ]

    return {
        "name": release.product.name,
        "version": release.version,
        "summary": release.summary,
        "notes": release.notes,
        "entry": release.entry,
        "core": files(None),
        "addons": [
            {
                "name": a.name,
                "function": a.function,
                "revision": a.revision,
                "price": a.price,
                "currency": a.currency,
                "policy": {"kind": a.policy.get("kind", "perpetual")},
                "files": files(a.name),
            }
            for a in sorted(release.addons, key=lambda a: a.name)
        ],
    }


def catalog(
    session: Session, keys: StoreKeys, *, store_id: str, now: dt.datetime
) -> dict[str, Any]:
    products = session.scalars(select(Product).order_by(Product.name)).all()
    entries = [_release_json(r) for p in products if (r := latest_release(p)) is not None]
    body = {
        "type": "catalog",
        "format": 1,
        "store_id": store_id,
        "generated_at": now.isoformat(),
        "products": entries,
    }
    return sign_document(body, keys.metadata)
