"""Publishing a product release from its source folder and ``tollgate.toml``.

Core files are stored zstd-compressed when that makes them smaller. Paid add-on files are
encrypted once, each under its own random content key (sealed under the master key in the
database), as a content stream whose file id names store, product, version, add-on and path; a
file unchanged since an earlier release keeps that release's ciphertext. Free add-ons (price 0,
not sold per use) are stored unencrypted. Blobs are written first (content-addressed, so an
interrupted publish leaves only unreferenced blobs); the database rows and the new TUF metadata
go in one transaction.

``[[environment]]`` tables tag the files they select: a file selected by core or an add-on keeps
its kind and is installed only where one of its tags matches; a file selected only by an
environment table is a core file for those environments.

For each file that changed, a zstd patch-from delta is made from the same file in each of the
last ``PATCH_BASES`` releases, and kept only when it is clearly smaller than the file (tufup
spends minutes on useless deltas of wholly new files). Add-on patches are encrypted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.crypto import stream
from tollgate.crypto.keys import open_secret, seal_secret
from tollgate.crypto.stream import Writable
from tollgate.files import open_plain
from tollgate.protocol import zstd
from tollgate.store.blobs import Blob, BlobStore
from tollgate.store.db import AddOn, Patch, Product, Release, ReleasedFile
from tollgate.store.publish_guard import PublishGuard
from tollgate.store.repository import Repository
from tollgate.store.services.catalog import publish_release
from tollgate.store.services.release_plan import (
    Selected,
    newer_than_published,
    patch_bases,
    select_release,
)
from tollgate.wire.targets import patch_stream_id

PATCH_WORTH = 0.5  # a patch is kept only when at most this fraction of the whole file


@dataclass(frozen=True)
class Published:
    product: str
    version: str
    core_files: int
    addons: list[str]


def _copy(source: Path) -> Callable[[Writable], None]:
    def produce(out: Writable) -> None:
        with open_plain(source) as fh:
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
        with open_plain(source) as fh:
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


def _content_key(master_key: bytes, f: ReleasedFile) -> bytes:
    assert f.stream_id is not None and f.content_key_sealed is not None
    return open_secret(master_key, "content-key", f.stream_id, f.content_key_sealed)


def _plaintext(blobs: BlobStore, master_key: bytes, f: ReleasedFile) -> bytes:
    """A released file's content, in memory: decompressed, or decrypted and verified."""
    data = blobs.path(f.digest).read_bytes()
    if f.encrypted:
        return stream.decrypt(
            _content_key(master_key, f),
            data,
            expected_file_id=f.stream_id,
            expected_commitment=f.commitment,
        )
    if f.compression == "zstd":
        return b"".join(zstd.decompress_stream(io.BytesIO(data), f.plain_size))
    return data


def _encrypted(
    blobs: BlobStore,
    master_key: bytes,
    source: Path,
    addon: str,
    rel: str,
    stream_id: str,
    earlier: list[Release],
) -> ReleasedFile:
    """A paid add-on file, encrypted under its own random content key. A file whose plaintext
    is unchanged since one of the ``earlier`` releases keeps that release's ciphertext, key and
    stream id, so a customer updating the add-on keeps the copy they have."""
    plain_digest = _sha256_of(source)
    for release in earlier:
        for old in release.files:
            if (old.addon_name, old.path, old.encrypted, old.plain_digest) == (
                addon,
                rel,
                True,
                plain_digest,
            ):
                return ReleasedFile(
                    addon_name=addon,
                    path=rel,
                    stream_id=old.stream_id,
                    digest=old.digest,
                    size=old.size,
                    parts=list(old.parts),
                    plain_size=old.plain_size,
                    plain_digest=plain_digest,
                    encrypted=True,
                    commitment=old.commitment,
                    content_key_sealed=old.content_key_sealed,
                )
    content_key = secrets.token_bytes(32)
    commitment = b""

    def produce(out: Writable) -> None:
        nonlocal commitment
        with open_plain(source) as fh:
            commitment = stream.encrypt_file(content_key, stream_id, fh, out)

    blob = blobs.write(produce)
    return ReleasedFile(
        addon_name=addon,
        path=rel,
        stream_id=stream_id,
        **_stored(blob),
        plain_size=source.stat().st_size,
        plain_digest=plain_digest,
        encrypted=True,
        commitment=commitment,
        content_key_sealed=seal_secret(master_key, "content-key", stream_id, content_key),
    )


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open_plain(path) as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _patch_bases(row: ReleasedFile, earlier: list[Release]) -> Iterator[tuple[str, ReleasedFile]]:
    """The same file (same add-on or core, same path) in ``earlier`` releases, once per
    distinct installed content that differs from ``row``'s, with the version it came from."""
    seen = {row.installed_digest}
    for release in earlier:
        for old in release.files:
            if (old.addon_name, old.path, old.encrypted) != (
                row.addon_name,
                row.path,
                row.encrypted,
            ) or old.plain_size > zstd.MAX_PATCH_INPUT:
                continue
            if old.installed_digest not in seen:
                seen.add(old.installed_digest)
                yield release.version, old


def _patches(
    blobs: BlobStore, master_key: bytes, root: Path, row: ReleasedFile, earlier: list[Release]
) -> list[Patch]:
    """Patches to ``row`` from the same file in ``earlier`` releases, each kept only if clearly
    smaller than the whole file. Deltas are between plaintexts; for an encrypted add-on the
    delta is encrypted under the new file's content key (its own stream id, so its own AEAD key
    and nonces) and carries the new file's stream header, with which the client re-encrypts what
    it rebuilds into exactly the signed ciphertext."""
    if row.plain_size > zstd.MAX_PATCH_INPUT:
        return []
    with open_plain(root / row.path) as fh:
        new = fh.read()
    header: bytes | None = None
    if row.encrypted:
        with blobs.path(row.digest).open("rb") as fh:
            header = stream.parse_header(fh.read(stream.MAX_HEADER_SIZE)).raw
    made: list[Patch] = []
    for base_version, old in _patch_bases(row, earlier):
        delta = zstd.make_patch(_plaintext(blobs, master_key, old), new)
        if row.encrypted:
            assert row.stream_id is not None
            delta = stream.encrypt(
                _content_key(master_key, row),
                patch_stream_id(row.stream_id, old.installed_digest),
                delta,
            )
        if len(delta) > PATCH_WORTH * row.size:
            continue  # not clearly smaller: the client fetches the whole file
        made.append(
            Patch(
                base_digest=old.installed_digest,
                base_version=base_version,
                stream_header=header,
                **_stored(blobs.write_bytes(delta)),
            )
        )
    return made


Progress = Callable[[str, int, int], None]  # what is being done, files done, files in all


def publish(
    session: Session,
    repository: Repository,
    *,
    store_id: str,
    master_key: bytes,
    source_dir: Path,
    guard: PublishGuard,
    now: dt.datetime,
    progress: Progress | None = None,
) -> Published:
    """Publish the release in ``source_dir``. Before anything is written, ``guard`` refuses a
    folder holding the store's, any symbolic link in the folder, and any selected file with
    the bytes of a store key, and the release is made from private copies (`PublishGuard.stage`)."""
    chosen = select_release(guard, source_dir)
    in_addons = {rel for paths in chosen.addon_paths.values() for rel in paths}
    with tempfile.TemporaryDirectory(prefix="tollgate-publish-") as private:
        staged = Path(private)
        guard.stage(chosen.root, sorted({*chosen.core_paths, *in_addons}), staged)
        return _publish_staged(
            session,
            repository,
            chosen,
            staged,
            store_id=store_id,
            master_key=master_key,
            now=now,
            progress=progress or (lambda what, done, total: None),
        )


def _publish_staged(
    session: Session,
    repository: Repository,
    chosen: Selected,
    staged: Path,
    *,
    store_id: str,
    master_key: bytes,
    now: dt.datetime,
    progress: Progress,
) -> Published:
    """The release, made from the private copies of its files in ``staged``."""
    blobs = repository.blobs
    manifest, core_paths, addon_paths = chosen.manifest, chosen.core_paths, chosen.addon_paths
    product = newer_than_published(session, manifest)
    version = str(manifest.version)
    earlier = patch_bases(product)
    total = 2 * (len(core_paths) + sum(len(p) for p in addon_paths.values()))
    rows: list[ReleasedFile] = []
    for rel in core_paths:
        progress(f"storing {rel}", len(rows), total)
        rows.append(_core(session, blobs, staged, rel))
    for spec in manifest.addons:
        for rel in addon_paths[spec.name]:
            if spec.free:  # free add-ons travel unencrypted
                progress(f"storing {spec.name}/{rel}", len(rows), total)
                rows.append(_plain(blobs, staged, rel, spec.name))
                continue
            progress(f"encrypting {spec.name}/{rel}", len(rows), total)
            stream_id = f"{store_id}/{manifest.name}/{version}/{spec.name}/{rel}"
            source = staged / rel
            rows.append(_encrypted(blobs, master_key, source, spec.name, rel, stream_id, earlier))
    for i, row in enumerate(rows):
        progress(f"patches for {row.path}", len(rows) + i, total)
        row.patches = _patches(blobs, master_key, staged, row, earlier)
    progress("signing the release into TUF", total, total)
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
                description=spec.description,
            )
        )
    for row in rows:
        row.release = release
        row.environment = chosen.environment_tags.get(row.path, [])
        session.add(row)
    session.flush()
    publish_release(session, repository, release, store_id=store_id)
    return Published(manifest.name, version, len(core_paths), [a.name for a in manifest.addons])
