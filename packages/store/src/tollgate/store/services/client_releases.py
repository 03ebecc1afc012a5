"""Releases of the download program (DESIGN.md section 5, self-update).

A vendor publishes the program's wheel and the wheels of everything it needs with ``tollgate
store publish-client`` (protocol/client_release.py: one TUF target per wheel, the program's
``custom`` describing the release). Each release must be newer than the last: the client role
then lists only its wheels, so no older program can be offered to a customer again. A store
with no release yet offers no installer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session
from tuf.api.metadata import TargetFile

from tollgate.protocol.client_release import (
    DEPENDENCY_KIND,
    BadClientRelease,
    ProgramRelease,
    Wheel,
    assemble,
    client_target,
    program_file_name,
    read_release,
)
from tollgate.store.db import ClientRelease as ClientReleaseRow
from tollgate.store.publish_guard import PublishGuard
from tollgate.store.repository import CLIENT_ROLE, Repository
from tollgate.store.services.errors import StoreError


def latest_client(session: Session) -> ClientReleaseRow | None:
    rows = session.scalars(select(ClientReleaseRow)).all()
    return max(rows, key=lambda r: Version(r.version), default=None)


def publish_client(
    session: Session,
    repo: Repository,
    program: Wheel,
    wheelhouse: Sequence[Wheel],
    pinned: Mapping[str, Sequence[str]] | None,
    *,
    guard: PublishGuard,
    now: dt.datetime,
) -> ClientReleaseRow:
    """Make ``program`` and ``wheelhouse`` (every wheel it needs) the client role's targets.
    ``guard`` refuses a wheel holding a file with the bytes of a store key."""
    try:
        release = assemble(program, wheelhouse, pinned)
        listed = {f for files in release.requirements.values() for f in files}
        wheels = {w.file_name: w for w in wheelhouse if w.file_name in listed}
        for wheel in (program, *wheels.values()):
            for name, digest in wheel.member_digests():
                guard.check_digest(f"{wheel.file_name}/{name}", digest)
    except BadClientRelease as exc:
        raise StoreError("malformed_request", f"not a download-program release: {exc}") from exc
    latest = latest_client(session)
    if latest is not None and Version(release.version) <= Version(latest.version):
        raise StoreError(
            "not_an_upgrade",
            f"the download program {release.version} is not newer than the published "
            f"{latest.version}",
        )
    own = _target(repo, release.version, program, release.to_custom())
    targets = [own]
    for wheel in wheels.values():
        custom = {"kind": DEPENDENCY_KIND, "client": release.version, "requirement": wheel.pin}
        targets.append(_target(repo, release.version, wheel, custom))
    row = ClientReleaseRow(
        version=release.version, digest=own.hashes["sha256"], size=own.length, published_at=now
    )
    session.add(row)
    repo.set_client_targets(session, targets)
    return row


def _target(
    repo: Repository, version: str, wheel: Wheel, custom: Mapping[str, object]
) -> TargetFile:
    repo.blobs.write_bytes(wheel.data)  # kept by its SHA-256, the target's
    target = TargetFile.from_data(client_target(version, wheel.file_name), wheel.data, ["sha256"])
    target.unrecognized_fields["custom"] = dict(custom)
    return target


def published_release(
    session: Session, repo: Repository
) -> tuple[ProgramRelease, dict[str, TargetFile]] | None:
    """The latest release as the client role lists it (its targets by path), or None."""
    row = latest_client(session)
    listing = repo.latest(session, CLIENT_ROLE)
    if row is None or listing is None:
        return None
    targets: dict[str, TargetFile] = dict(listing.signed.targets)
    program = targets.get(client_target(row.version, program_file_name(row.version)))
    if program is None:
        return None
    return read_release(program.custom, row.version), targets
