"""What a running store is made of: its folder, database, payment gateway, TUF repository and
services, opened once per process (`open_store`) and handed to the HTTP routes, the pages and
the vendor's commands. The routes import this module; it imports no route."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tollgate.files import UnsafeTree, open_below, open_plain, plain_files
from tollgate.protocol.client_release import (
    MAX_WHEEL,
    BadClientRelease,
    ProgramRelease,
    parse_requirements,
    read_wheel,
)
from tollgate.store.blobs import BlobStore
from tollgate.store.db import ClientRelease, make_engine, make_sessionmaker
from tollgate.store.folder import StoreFolder
from tollgate.store.migrate import upgrade
from tollgate.store.payments import Gateway
from tollgate.store.payments.sandbox import SandboxGateway
from tollgate.store.publish_guard import PublishGuard, PublishRefused
from tollgate.store.ratelimit import RateLimiter
from tollgate.store.repository import Repository
from tollgate.store.services.catalog import ensure_repository
from tollgate.store.services.client_releases import publish_client, published_release
from tollgate.store.services.errors import StoreError
from tollgate.store.services.orders import OrderService
from tollgate.store.services.publish import Progress, Published, publish
from tollgate.store.services.release_plan import ReleasePlan, plan_release
from tollgate.store.services.usage import UsageService

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class StoreContext:
    folder: StoreFolder
    sessions: sessionmaker[Session]
    gateway: Gateway
    clock: Clock
    orders: OrderService
    usage: UsageService
    registration_limit: RateLimiter
    repository: Repository
    served_at: str | None = None  # set by the server (store/server.py) once it listens

    @property
    def store_id(self) -> str:
        return self.folder.config.store_id

    @property
    def public_url(self) -> str:
        """The URL customers reach the store at: ``public_url`` in store.toml, else where the
        server listens. What the store names in installers and install lists; never a Host
        header, which anyone can set."""
        url = self.folder.config.public_url or self.served_at
        if url is None:
            raise StoreError("internal_error", "the store does not know its public URL")
        return url.rstrip("/")

    def publish(self, source_dir: Path, progress: Progress | None = None) -> Published:
        """Publish a release from ``source_dir`` (its ``tollgate.toml``), signed into TUF."""
        with self.sessions.begin() as s:
            return publish(
                s,
                self.repository,
                store_id=self.store_id,
                master_key=self.folder.keys.master,
                source_dir=source_dir,
                guard=self.folder.publish_guard(),
                now=self.clock(),
                progress=progress,
            )

    def plan_release(self, source_dir: Path) -> ReleasePlan:
        """What `publish` would do with ``source_dir``; nothing is written."""
        with self.sessions() as s:
            return plan_release(s, self.folder.publish_guard(), source_dir)

    def publish_client(
        self, program: Path, wheelhouse: Path, requirements: Path | None = None
    ) -> ClientRelease:
        """Publish the download program's wheel ``program`` as the latest client, with the
        wheels of its dependencies in the folder ``wheelhouse`` (as ``pip download`` writes
        them, for every platform the vendor supports) and, if given, the pinned
        ``requirements`` file they were downloaded from. Every file is read without following
        a link (protocol/client_release.py says what a release is)."""
        guard = self.folder.publish_guard()
        try:
            wheel = read_wheel(program.name, _read_plain(guard, program, MAX_WHEEL))
            house = guard.check_source(wheelhouse)
            names = sorted(plain_files(house))
            strays = [n for n in names if "/" in n or not n.endswith(".whl")]
            if strays:
                raise PublishRefused(
                    f"the wheelhouse holds {strays[0]}, which is not a wheel: publish wheels "
                    "only (pip download --only-binary=:all:), in one folder"
                )
            wheels = []
            for name in names:
                with open_below(house, name) as fh:
                    wheels.append(read_wheel(name, fh.read(MAX_WHEEL + 1)))
            pinned = None
            if requirements is not None:
                text = _read_plain(guard, requirements, MAX_REQUIREMENTS).decode("utf-8")
                pinned = parse_requirements(text)
        except UnsafeTree as exc:
            raise PublishRefused(f"{exc}: publish-client follows no link") from exc
        except UnicodeDecodeError as exc:
            raise PublishRefused(f"{requirements} is not UTF-8 text") from exc
        except BadClientRelease as exc:
            raise StoreError("malformed_request", f"not a download-program release: {exc}") from exc
        with self.sessions.begin() as s:
            row = publish_client(
                s, self.repository, wheel, wheels, pinned, guard=guard, now=self.clock()
            )
            s.expunge(row)
            return row

    def client_release(self) -> ProgramRelease | None:
        """The latest published download program, as its signed target describes it."""
        with self.sessions() as s:
            found = published_release(s, self.repository)
        return None if found is None else found[0]

    def rotate_keys(self, roles: list[str]) -> tuple[int, list[str]]:
        """New TUF keys for ``roles``; returns the new root version and the retired key ids,
        whose files are removed once the new metadata is committed."""
        with self.sessions.begin() as s:
            retired = self.repository.rotate(s, roles)
            row = self.repository.latest_row(s, "root")
            version = 0 if row is None else row.version
        self.repository.keys.remove(retired)
        return version, retired

    def close(self) -> None:
        """Close the database connections (before a fork, or when a test is done)."""
        self.sessions.kw["bind"].dispose()


def open_store(
    folder: StoreFolder,
    *,
    clock: Clock = utcnow,
    gateway: Gateway | None = None,
    registrations_per_minute: int = 10,
    database_url: str | None = None,
) -> StoreContext:
    engine = make_engine(database_url or folder.config.database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    gateway = gateway or SandboxGateway(sessions, clock)
    orders = OrderService(sessions, gateway, folder.keys, folder.config.store_id, clock)
    blobs = BlobStore(folder.blobs_dir, folder.config.part_size)
    repository = Repository(folder.keys.tuf, blobs, clock)
    try:
        with sessions.begin() as s:
            ensure_repository(
                s, repository, folder.keys, store_id=folder.config.store_id, name=folder.config.name
            )
    except IntegrityError:
        pass  # another store process on this database created it first
    return StoreContext(
        folder,
        sessions,
        gateway,
        clock,
        orders,
        UsageService(sessions, gateway, clock),
        RateLimiter(registrations_per_minute, 60.0),
        repository,
    )


MAX_REQUIREMENTS = 1024 * 1024


def _read_plain(guard: PublishGuard, path: Path, limit: int) -> bytes:
    """A file to publish (one byte past ``limit`` at most, for the reader to refuse): not the
    store's own, not reached through a link."""
    with open_plain(guard.check_source(path)) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise PublishRefused(f"{path} is larger than {limit} bytes")
    return data
