"""What a release would publish, worked out without writing anything: the files its manifest
selects, their sizes, which are new, changed or unchanged since the newest release (by
plaintext SHA-256), and the earlier releases a changed file would get patches from. ``tollgate
store publish --dry-run`` shows it; ``publish`` selects the same files the same way."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.files import UnsafeTree, open_plain, plain_files
from tollgate.store.db import Product, Release
from tollgate.store.manifest import Manifest, ManifestError, expand, load_manifest
from tollgate.store.publish_guard import PublishGuard, PublishRefused
from tollgate.wire.addons import price_terms
from tollgate.wire.text import clean

PATCH_BASES = 2  # patches are made from this many earlier releases


@dataclass(frozen=True)
class Selected:
    """The files a manifest selects from its folder, checked but not yet copied."""

    root: Path
    manifest: Manifest
    core_paths: list[str]
    addon_paths: dict[str, list[str]]
    environment_tags: dict[str, list[str]]


def select_release(guard: PublishGuard, source_dir: Path) -> Selected:
    """Read the manifest and select its files. ``guard`` refuses a folder holding the store's
    and any symbolic link in the folder; a selected name with control characters is refused."""
    root = guard.check_source(source_dir)
    try:
        files = plain_files(root)
    except UnsafeTree as exc:
        raise PublishRefused(
            f"{exc}: publish follows no link, so put the file itself in the product folder"
        ) from exc
    manifest = load_manifest(root, files)
    core_paths = expand(manifest, manifest.core_files, "core")
    addon_paths = {a.name: expand(manifest, a.files, f'addon "{a.name}"') for a in manifest.addons}
    environment_tags = _environment_tags(manifest)
    in_addons = {rel for paths in addon_paths.values() for rel in paths}
    core_paths += [
        rel for rel in environment_tags if rel not in core_paths and rel not in in_addons
    ]
    for rel in [*core_paths, *in_addons]:
        if clean(rel) != rel:
            raise PublishRefused(f"{rel!r}: a published file's name holds control characters")
    return Selected(root, manifest, core_paths, addon_paths, environment_tags)


def _environment_tags(manifest: Manifest) -> dict[str, list[str]]:
    """Each environment-specific file with the union of the tags that select it."""
    tags: dict[str, list[str]] = {}
    for i, spec in enumerate(manifest.environments):
        for rel in expand(manifest, spec.files, f"environment[{i}]"):
            known = tags.setdefault(rel, [])
            known.extend(t for t in spec.tags if t not in known)
    return tags


def newer_than_published(session: Session, manifest: Manifest) -> Product | None:
    """The product, if published before; refuses a version not newer than its newest."""
    product = session.scalars(select(Product).where(Product.name == manifest.name)).one_or_none()
    if product is not None:
        newest = max((Version(r.version) for r in product.releases), default=None)
        if newest is not None and manifest.version <= newest:
            raise ManifestError(
                manifest.path,
                "product.version",
                f"{manifest.version} is not newer than the published {newest}",
            )
    return product


def patch_bases(product: Product | None) -> list[Release]:
    """The earlier releases a changed file gets patches from, newest first."""
    if product is None:
        return []
    return sorted(product.releases, key=lambda r: Version(r.version), reverse=True)[:PATCH_BASES]


@dataclass(frozen=True)
class PlannedFile:
    path: str
    addon: str | None  # None: the core
    size: int
    status: str  # new, changed, unchanged (since the newest release)
    patches_from: list[str]  # earlier versions a patch would be tried from


@dataclass(frozen=True)
class ReleasePlan:
    product: str
    version: str
    previous: str | None
    files: list[PlannedFile]
    addons: list[dict[str, Any]]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "version": self.version,
            "previous": self.previous,
            "size": self.size,
            "files": [f.__dict__ for f in self.files],
            "addons": self.addons,
        }


def plan_release(session: Session, guard: PublishGuard, source_dir: Path) -> ReleasePlan:
    """What ``publish`` would do with ``source_dir``; nothing is written."""
    chosen = select_release(guard, source_dir)
    manifest = chosen.manifest
    product = newer_than_published(session, manifest)
    bases = patch_bases(product)
    newest = bases[0] if bases else None
    before = {} if newest is None else {(f.addon_name, f.path): f for f in newest.files}
    files = []
    for addon, paths in [(None, chosen.core_paths), *chosen.addon_paths.items()]:
        for rel in paths:
            size = (chosen.root / rel).lstat().st_size
            old = before.get((addon, rel))
            digest = _sha256(chosen.root / rel)
            status = (
                "new"
                if old is None
                else "unchanged"
                if (old.plain_digest or old.digest) == digest
                else "changed"
            )
            patch_from = [
                r.version
                for r in bases
                if status == "changed"
                and any((f.addon_name, f.path) == (addon, rel) for f in r.files)
            ]
            files.append(PlannedFile(rel, addon, size, status, patch_from))
    addons = [
        {
            "name": a.name,
            "terms": price_terms(a.price, a.currency, a.policy.get("per_use")),
            "encrypted": not a.free,
            "files": len(chosen.addon_paths[a.name]),
        }
        for a in manifest.addons
    ]
    return ReleasePlan(
        manifest.name,
        str(manifest.version),
        None if newest is None else newest.version,
        files,
        addons,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_plain(path) as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
