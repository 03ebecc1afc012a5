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

from tollgate.files import UnsafeTree, open_plain
from tollgate.store.blobs import BlobStore
from tollgate.store.db import ClientRelease, make_engine, make_sessionmaker
from tollgate.store.folder import StoreFolder
from tollgate.store.migrate import upgrade
from tollgate.store.payments import Gateway
from tollgate.store.payments.sandbox import SandboxGateway
from tollgate.store.publish_guard import PublishRefused
from tollgate.store.ratelimit import RateLimiter
from tollgate.store.repository import Repository
from tollgate.store.services.catalog import ensure_repository
from tollgate.store.services.client_releases import ensure_client_release, publish_client
from tollgate.store.services.errors import StoreError
from tollgate.store.services.orders import OrderService
from tollgate.store.services.publish import Published, publish
from tollgate.store.services.usage import UsageService
from tollgate.wire.client_archive import build_archive

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

    def publish(self, source_dir: Path) -> Published:
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
            )

    def publish_client(self, source: bytes | Path) -> ClientRelease:
        """Publish a download program as the latest client: an archive (wire/client_archive.py),
        as bytes or a file, or a ``tollgate`` package folder to archive."""
        guard = self.folder.publish_guard()
        if isinstance(source, Path):
            root = guard.check_source(source)
            if root.is_dir():
                try:
                    archive = build_archive(root)
                except UnsafeTree as exc:
                    raise PublishRefused(f"{exc}: publish-client follows no link") from exc
            else:
                with open_plain(root) as fh:
                    archive = fh.read()
        else:
            archive = source
        with self.sessions.begin() as s:
            row = publish_client(s, self.repository, archive, guard=guard, now=self.clock())
            s.expunge(row)
            return row

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
        with sessions.begin() as s:
            ensure_client_release(s, repository, guard=folder.publish_guard(), now=clock())
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
