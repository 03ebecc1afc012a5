"""Releases of the download program (DESIGN.md section 5, self-update).

A vendor publishes a new client with ``tollgate store publish-client``; a new store publishes
the client it was made with, so every store has one to hand to the bootstrap. Each release must
be newer than the last: the client role then lists only it, so no older archive can be offered
to a customer again. ``custom`` of the target says what it is (``kind``, ``version``) and which
Python it needs; the client checks both before installing.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session
from tuf.api.metadata import TargetFile

import tollgate
from tollgate.store.db import ClientRelease
from tollgate.store.publish_guard import PublishGuard
from tollgate.store.repository import Repository
from tollgate.store.services.errors import StoreError
from tollgate.wire.client_archive import (
    BadClientArchive,
    archive_version,
    build_archive,
    client_target,
    read_archive,
)

REQUIRES_PYTHON = ">=3.11"


@functools.cache
def own_archive() -> bytes:
    """The archive of the ``tollgate`` package this store runs (built once per process)."""
    return build_archive(Path(tollgate.__file__).parent)


def latest_client(session: Session) -> ClientRelease | None:
    rows = session.scalars(select(ClientRelease)).all()
    return max(rows, key=lambda r: Version(r.version), default=None)


def publish_client(
    session: Session,
    repo: Repository,
    archive: bytes,
    *,
    guard: PublishGuard,
    now: dt.datetime,
) -> ClientRelease:
    """Store ``archive`` and make it the client role's only target. ``guard`` refuses an
    archive holding a file with the bytes of a store key."""
    try:
        members = read_archive(archive)
        version = archive_version(members)
    except BadClientArchive as exc:
        raise StoreError("malformed_request", f"not a download-program archive: {exc}") from exc
    for name, body in members.items():
        guard.check_bytes(name, body)
    latest = latest_client(session)
    if latest is not None and Version(version) <= Version(latest.version):
        raise StoreError(
            "not_an_upgrade",
            f"the download program {version} is not newer than the published {latest.version}",
        )
    blob = repo.blobs.write_bytes(archive)
    row = ClientRelease(version=version, digest=blob.digest, size=blob.size, published_at=now)
    session.add(row)
    path = client_target(version)
    target = TargetFile.from_data(path, archive, ["sha256"])
    target.unrecognized_fields["custom"] = {
        "kind": "client",
        "version": version,
        "requires_python": REQUIRES_PYTHON,
    }
    repo.set_client_target(session, target)
    return row


def ensure_client_release(
    session: Session, repo: Repository, *, guard: PublishGuard, now: dt.datetime
) -> None:
    """Publish this store's own download program if the store has none yet."""
    if latest_client(session) is None:
        publish_client(session, repo, own_archive(), guard=guard, now=now)


def client_requirements() -> list[str]:
    """What the download program needs installed beside it, pinned to the versions this store
    runs with (``name[extras]==version``), for the bootstrap to check or fetch."""
    pins = []
    for line in metadata.requires("tollgate") or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # a development extra
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        pins.append(f"{req.name}{extras}=={metadata.version(req.name)}")
    return sorted(pins)
