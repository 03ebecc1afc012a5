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
import re
from importlib import metadata, resources
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
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


def client_requirements() -> dict[str, list[str]]:
    """What the download program needs installed beside it, all of it (every dependency of a
    dependency), each pinned to the version this store runs with (``name==version``) and to
    the SHA-256 hashes the project's lock records for that version, for the bootstrap to check
    or fetch with ``pip --require-hashes``. A dependency the lock does not pin has no hashes,
    and the installer refuses to fetch it."""
    locked = locked_hashes((resources.files("tollgate") / "requirements.lock").read_text())
    pins: dict[str, list[str]] = {}
    for name in sorted(_closure("tollgate")):
        version = metadata.version(name)
        hashes = locked.get((canonicalize_name(name), version), [])
        pins[f"{canonicalize_name(name)}=={version}"] = hashes
    return pins


def _closure(root: str) -> set[str]:
    """The installed distributions ``root`` needs, transitively, leaving out its extras
    (development tools) and what markers exclude on this machine."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while pending:
        name, extras = pending.pop()
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": e}) for e in (extras or {""})
            ):
                continue
            wanted = (canonicalize_name(req.name), frozenset(req.extras))
            if wanted not in seen:
                seen.add(wanted)
                pending.append(wanted)
    return {name for name, _ in seen}


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\]+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def locked_hashes(lock: str) -> dict[tuple[str, str], list[str]]:
    """``(canonical name, version) -> ["sha256:…", …]`` from a pip-compile lock."""
    found: dict[tuple[str, str], list[str]] = {}
    current: list[str] | None = None
    for line in lock.splitlines():
        pin = _PIN.match(line)
        if pin:
            current = found.setdefault((canonicalize_name(pin[1]), pin[2]), [])
        elif current is not None and (digest := _HASH.search(line)):
            current.append(digest[1])
        elif not line.startswith(" "):
            current = None
    return found
