"""What the store publishes through TUF: the store descriptor, the catalog, and one target per
released file whose ``custom`` field is the file's install entry.

Documents are canonical JSON (RFC 8785) with no signature of their own: TUF's targets role signs
their length and SHA-256, and the client reads them only through TUF.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import PurePosixPath
from typing import Any

from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session
from tuf.api.metadata import TargetFile

from tollgate.crypto import canonical
from tollgate.crypto.documents import public_key_b64
from tollgate.store.db import AddOn, Patch, Product, Release, ReleasedFile
from tollgate.store.folder import StoreKeys
from tollgate.store.repository import Repository
from tollgate.wire.addons import package_dir_of
from tollgate.wire.targets import file_target, patch_target, release_target


def descriptor(keys: StoreKeys, *, store_id: str, name: str) -> bytes:
    return canonical.dumps(
        {
            "type": "store-descriptor",
            "format": 2,
            "store_id": store_id,
            "name": name,
            "sealing_key": base64.b64encode(keys.sealing.public_key().raw).decode(),
            "licence_key": public_key_b64(keys.licence.public_key()),
        }
    )


def latest_release(product: Product) -> Release | None:
    return max(product.releases, key=lambda r: Version(r.version), default=None)


def target_of(f: ReleasedFile) -> str:
    return file_target(f.release.product.name, f.release.version, f.addon_name, f.path)


def install_entry(f: ReleasedFile, addon: AddOn | None) -> dict[str, Any]:
    """The signed facts about one file: the patent's install command and what checks it."""
    release = f.release
    return {
        "product": release.product.name,
        "kind": "core" if addon is None else "add-on",
        "name": f.path,
        "addon": None if addon is None else addon.name,
        "version": release.version,
        "function": "core" if addon is None else addon.function,
        "revision": 0 if addon is None else addon.revision,
        "environment": list(f.environment),
        "parts": list(f.parts) or [{"length": f.size, "sha256": f.digest}],
        "size": f.plain_size,
        "installed_sha256": f.installed_digest,
        "compression": f.compression,
        "encrypted": f.encrypted,
        "price": 0 if addon is None else addon.price,
        "currency": None if addon is None else addon.currency,
        "requires": list(release.requires),
    }


def patch_target_of(p: Patch) -> str:
    f = p.file
    return patch_target(f.release.product.name, f.release.version, p.base_digest, f.path)


def patch_entry(p: Patch) -> dict[str, Any]:
    """A patch's signed facts: which installed file it applies to, and what it makes. An
    add-on's patch is encrypted, and carries the stream header of the file it makes."""
    f = p.file
    return {
        "product": f.release.product.name,
        "kind": "patch",
        "name": f.path,
        "addon": f.addon_name,
        "version": f.release.version,
        "base_sha256": p.base_digest,
        "base_version": p.base_version,
        "installed_sha256": f.installed_digest,
        "size": f.plain_size,
        "parts": list(p.parts),
        "compression": "zstd-patch",
        "encrypted": f.encrypted,
        "stream_header": None
        if p.stream_header is None
        else base64.b64encode(p.stream_header).decode(),
    }


def addon_offer(addon: AddOn, paths: list[str]) -> dict[str, Any]:
    """What a release says about one add-on: enough for the runtime to name what to buy when
    a program imports its ``package``, and to open a free one without a licence."""
    package_dir = package_dir_of(paths)
    per_use = addon.policy.get("per_use")
    return {
        "name": addon.name,
        "function": addon.function,
        "revision": addon.revision,
        "price": addon.price,
        "currency": addon.currency,
        "per_use": per_use,
        "free": addon.price == 0 and not per_use,
        "package": None if package_dir is None else PurePosixPath(package_dir).name,
    }


def release_entry(release: Release) -> dict[str, Any]:
    """The signed facts about a release as a whole (wire/targets.py, release target). ``files``
    is the complete set of its file targets with the environments each is for, so a client can
    refuse an install list that leaves one out."""
    return {
        "product": release.product.name,
        "kind": "release",
        "version": release.version,
        "summary": release.summary,
        "notes": release.notes,
        "entry": release.entry,
        "requires": list(release.requires),
        "addons": [
            addon_offer(a, [f.path for f in release.files if f.addon_name == a.name])
            for a in sorted(release.addons, key=lambda a: a.name)
        ],
        "files": [
            {"target": target_of(f), "environment": list(f.environment)}
            for f in sorted(release.files, key=lambda f: (f.addon_name or "", f.path))
        ],
    }


def release_targets(release: Release) -> list[TargetFile]:
    addons = {a.name: a for a in release.addons}
    entry = release_entry(release)
    path = release_target(release.product.name, release.version)
    described = TargetFile.from_data(path, canonical.dumps(entry), ["sha256"])
    described.unrecognized_fields["custom"] = entry
    return (
        [described]
        + [
            TargetFile(
                length=f.size,
                hashes={"sha256": f.digest},
                path=target_of(f),
                unrecognized_fields={
                    "custom": install_entry(
                        f, None if f.addon_name is None else addons[f.addon_name]
                    )
                },
            )
            for f in sorted(release.files, key=lambda f: (f.addon_name or "", f.path))
        ]
        + [
            TargetFile(
                length=p.size,
                hashes={"sha256": p.digest},
                path=patch_target_of(p),
                unrecognized_fields={"custom": patch_entry(p)},
            )
            for f in release.files
            for p in f.patches
        ]
    )


def _release_json(release: Release) -> dict[str, Any]:
    def files(addon_name: str | None) -> list[dict[str, Any]]:
        return [
            {"path": f.path, "target": target_of(f)}
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
                "per_use": a.policy.get("per_use"),
                "description": a.description,
                "files": files(a.name),
            }
            for a in sorted(release.addons, key=lambda a: a.name)
        ],
    }


def catalog(session: Session, *, store_id: str, now: dt.datetime) -> bytes:
    products = session.scalars(select(Product).order_by(Product.name)).all()
    entries = [_release_json(r) for p in products if (r := latest_release(p)) is not None]
    return canonical.dumps(
        {
            "type": "catalog",
            "format": 2,
            "store_id": store_id,
            "generated_at": now.isoformat(),
            "products": entries,
        }
    )


def ensure_repository(
    session: Session, repo: Repository, keys: StoreKeys, *, store_id: str, name: str
) -> None:
    """Create the repository with the descriptor and an empty catalog, once."""
    if not repo.initialised(session):
        repo.initialise(
            session,
            {
                "descriptor.json": descriptor(keys, store_id=store_id, name=name),
                "catalog.json": catalog(session, store_id=store_id, now=repo.clock()),
            },
        )


def publish_release(session: Session, repo: Repository, release: Release, *, store_id: str) -> None:
    """Sign the release's files into its product's role and the new catalog into targets."""
    repo.set_product_targets(session, release.product.name, release_targets(release))
    repo.set_documents(
        session, {"catalog.json": catalog(session, store_id=store_id, now=repo.clock())}
    )
