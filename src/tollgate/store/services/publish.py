"""Publishing a product release from its source folder and ``tollgate.toml``.

Core files are stored as they are. Paid add-on files are encrypted once, each under its own
random content key (sealed under the master key in the database), as a content stream whose
file id names store, product, version, add-on and path. Free add-ons (price 0) are stored
unencrypted. Blobs are written first (content-addressed, so an interrupted publish leaves only
unreferenced blobs); the database rows and the new TUF metadata go in one transaction.

``[[environment]]`` tables tag the files they select: a file selected by core or an add-on keeps
its kind and is installed only where one of its tags matches; a file selected only by an
environment table is a core file for those environments.

Core files are stored zstd-compressed. For each core file that changed, a zstd patch-from delta
is made from the same file in each of the last ``PATCH_BASES`` releases, and kept only when it
is clearly smaller than the file (tufup spends minutes on useless deltas of wholly new files).
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
from tollgate.store.db import AddOn, Patch, Product, Release, ReleasedFile
from tollgate.store.manifest import Manifest, ManifestError, expand, load_manifest
from tollgate.store.repository import Repository
from tollgate.store.services.catalog import publish_release
from tollgate.wire import zstd

PATCH_BASES = 2  # patches are made from this many earlier releases
PATCH_WORTH = 0.5  # a patch is kept only when at most this fraction of the whole file


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
    """A file stored as it is (free add-ons)."""
    blob = blobs.write(_copy(root / rel))
    return ReleasedFile(
        addon_name=addon_name,
        path=rel,
        stream_id=None,
        plain_size=blob.size,
        plain_digest=blob.digest,
        encrypted=False,
        **_stored(blob),
    )


def _core(session: Session, blobs: BlobStore, root: Path, rel: str) -> ReleasedFile:
    """A core file, stored compressed with zstd when that makes it smaller (the client checks
    the size and SHA-256 of what it decompresses), else as it is."""
    source = root / rel
    size = source.stat().st_size
    plain_digest = ""

    def produce(out: Writable) -> None:
        nonlocal plain_digest
        with source.open("rb") as fh:
            plain_digest = zstd.compress_stream(fh, out, size)

    blob = blobs.write(produce)
    if blob.size >= size:  # incompressible: keep it plain, drop the useless blob
        used = session.scalars(select(ReleasedFile.id).where(ReleasedFile.digest == blob.digest))
        if used.first() is None:
            blobs.path(blob.digest).unlink(missing_ok=True)
        return _plain(blobs, root, rel, None)
    return ReleasedFile(
        addon_name=None,
        path=rel,
        stream_id=None,
        plain_size=size,
        plain_digest=plain_digest,
        compression="zstd",
        encrypted=False,
        **_stored(blob),
    )


def _installed_bytes(blobs: BlobStore, f: ReleasedFile) -> bytes:
    with blobs.path(f.digest).open("rb") as fh:
        if f.compression == "zstd":
            return b"".join(zstd.decompress_stream(fh, f.plain_size))
        return fh.read()


def _patches(
    blobs: BlobStore, root: Path, row: ReleasedFile, earlier: list[Release]
) -> list[Patch]:
    """Patches to ``row`` from the same core file in ``earlier`` releases, each kept only if
    clearly smaller than the whole (compressed) file."""
    if row.plain_size > zstd.MAX_PATCH_INPUT:
        return []
    new = (root / row.path).read_bytes()
    made: list[Patch] = []
    for release in earlier:
        for old in release.files:
            base = old.installed_digest
            if (
                old.addon_name is not None
                or old.path != row.path
                or base == row.plain_digest
                or old.plain_size > zstd.MAX_PATCH_INPUT
                or any(p.base_digest == base for p in made)
            ):
                continue
            delta = zstd.make_patch(_installed_bytes(blobs, old), new)
            if len(delta) > PATCH_WORTH * row.size:
                continue  # not clearly smaller: the client fetches the whole file
            blob = blobs.write_bytes(delta)
            made.append(Patch(base_digest=base, base_version=release.version, **_stored(blob)))
    return made


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
    rows = [_core(session, blobs, manifest.root, rel) for rel in core_paths]
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

    earlier = (
        sorted(product.releases, key=lambda r: Version(r.version), reverse=True)[:PATCH_BASES]
        if product is not None
        else []
    )
    for row in rows:
        if row.addon_name is None:
            row.patches = _patches(blobs, manifest.root, row, earlier)
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
