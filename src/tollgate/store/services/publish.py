"""Publishing a product release from its source folder and ``tollgate.toml``.

Core files are stored as they are. Paid add-on files are encrypted once, each under its own
random content key (sealed under the master key in the database), as a content stream whose
file id names store, product, version, add-on and path. Free add-ons (price 0) are stored
unencrypted. Blobs are written first (content-addressed, so an interrupted publish leaves only
unreferenced blobs); the database rows and the new TUF metadata go in one transaction.

``[[environment]]`` tables tag the files they select: a file selected by core or an add-on keeps
its kind and is installed only where one of its tags matches; a file selected only by an
environment table is a core file for those environments.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.crypto import stream
from tollgate.crypto.keys import seal_secret
from tollgate.crypto.stream import Writable
from tollgate.store.blobs import Blob, BlobStore
from tollgate.store.db import AddOn, Product, Release, ReleasedFile
from tollgate.store.manifest import Manifest, ManifestError, expand, load_manifest
from tollgate.store.repository import Repository
from tollgate.store.services.catalog import publish_release


@dataclass(frozen=True)
class Published:
    product: str
    version: str
    core_files: int
    addons: list[str]


def _copy(source: Path) -> Callable[[Writable], None]:
    def produce(out: Writable) -> None:
        with source.open("rb") as fh:
            while block := fh.read(1 << 20):
                out.write(block)

    return produce


def _stored(blob: Blob) -> dict[str, object]:
    parts = [p.to_json() for p in blob.parts]
    return {"digest": blob.digest, "size": blob.size, "parts": parts}


def _plain(blobs: BlobStore, root: Path, rel: str, addon_name: str | None) -> ReleasedFile:
    """A file stored as it is (core files, free add-ons)."""
    blob = blobs.write(_copy(root / rel))
    return ReleasedFile(
        addon_name=addon_name,
        path=rel,
        stream_id=None,
        plain_size=blob.size,
        encrypted=False,
        **_stored(blob),
    )


def _environment_tags(manifest: Manifest) -> dict[str, list[str]]:
    """Each environment-specific file with the union of the tags that select it."""
    tags: dict[str, list[str]] = {}
    for i, spec in enumerate(manifest.environments):
        for rel in expand(manifest, spec.files, f"environment[{i}]"):
            known = tags.setdefault(rel, [])
            known.extend(t for t in spec.tags if t not in known)
    return tags


def publish(
    session: Session,
    repository: Repository,
    *,
    store_id: str,
    master_key: bytes,
    source_dir: Path,
    now: dt.datetime,
) -> Published:
    blobs = repository.blobs
    manifest = load_manifest(source_dir)
    core_paths = expand(manifest, manifest.core_files, "core")
    addon_paths = {
        a.name: expand(manifest, a.files, f"addon[{i}]") for i, a in enumerate(manifest.addons)
    }
    environment_tags = _environment_tags(manifest)
    in_addons = {rel for paths in addon_paths.values() for rel in paths}
    core_paths += [
        rel for rel in environment_tags if rel not in core_paths and rel not in in_addons
    ]

    product = session.scalars(select(Product).where(Product.name == manifest.name)).one_or_none()
    if product is not None:
        newest = max((Version(r.version) for r in product.releases), default=None)
        if newest is not None and manifest.version <= newest:
            raise ManifestError(
                manifest.path,
                "product.version",
                f"{manifest.version} is not newer than the published {newest}",
            )

    version = str(manifest.version)
    rows = [_plain(blobs, manifest.root, rel, None) for rel in core_paths]
    for spec in manifest.addons:
        for rel in addon_paths[spec.name]:
            source = manifest.root / rel
            if spec.price == 0:  # free add-ons travel unencrypted
                rows.append(_plain(blobs, manifest.root, rel, spec.name))
                continue
            content_key = secrets.token_bytes(32)
            stream_id = f"{store_id}/{manifest.name}/{version}/{spec.name}/{rel}"
            commitment = b""

            def produce(
                out: Writable, src: Path = source, key: bytes = content_key, sid: str = stream_id
            ) -> None:
                nonlocal commitment
                with src.open("rb") as fh:
                    commitment = stream.encrypt_file(key, sid, fh, out)

            blob = blobs.write(produce)
            rows.append(
                ReleasedFile(
                    addon_name=spec.name,
                    path=rel,
                    stream_id=stream_id,
                    **_stored(blob),
                    plain_size=source.stat().st_size,
                    encrypted=True,
                    commitment=commitment,
                    content_key_sealed=seal_secret(
                        master_key, "content-key", stream_id, content_key
                    ),
                )
            )

    if product is None:
        product = Product(name=manifest.name)
        session.add(product)
    release = Release(
        product=product,
        version=version,
        summary=manifest.summary,
        notes=manifest.notes,
        entry=manifest.entry,
        requires=manifest.requires,
        published_at=now,
    )
    session.add(release)
    for spec in manifest.addons:
        policy = dict(spec.policy)
        if spec.countries:
            policy["countries"] = spec.countries
        session.add(
            AddOn(
                release=release,
                name=spec.name,
                function=spec.function,
                revision=spec.revision,
                price=spec.price,
                currency=spec.currency,
                policy=policy,
            )
        )
    for row in rows:
        row.release = release
        row.environment = environment_tags.get(row.path, [])
        session.add(row)
    session.flush()
    publish_release(session, repository, release, store_id=store_id)
    return Published(manifest.name, version, len(core_paths), [a.name for a in manifest.addons])
