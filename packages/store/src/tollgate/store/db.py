"""Database schema (SQLAlchemy 2) and engine setup. Schema changes go through Alembic.

Secrets are never stored in clear: ``customers.key_sealed``/``purchase_key_sealed`` and
``files.content_key_sealed`` are encrypted under the store master key; cards are the gateway's
token, brand, last four digits and expiry only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return None if value is None else value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON}  # noqa: RUF012


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    country: Mapped[str] = mapped_column(String(2))
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    purchase_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    card_token: Mapped[str] = mapped_column(String(64))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    card_exp_month: Mapped[int] = mapped_column(Integer)
    card_exp_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    licence_counter: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[dt.datetime]
    # The highest meter generation a renewal declared (runtime/meter.py); a lower one means a
    # restored or removed client state (store/services/renewal.py).
    meter_generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Why renewals are refused until the vendor clears it (`tollgate store clear-hold`).
    renewal_hold: Mapped[str | None] = mapped_column(String(500))


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    releases: Mapped[list[Release]] = relationship(back_populates="product")


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("product_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    version: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    entry: Mapped[str] = mapped_column(String(200))
    requires: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[dt.datetime]
    product: Mapped[Product] = relationship(back_populates="releases")
    files: Mapped[list[ReleasedFile]] = relationship(back_populates="release")
    addons: Mapped[list[AddOn]] = relationship(back_populates="release")


class AddOn(Base):
    """One add-on of one release: orders and licences are for (customer, add-on row)."""

    __tablename__ = "addons"
    __table_args__ = (UniqueConstraint("release_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    name: Mapped[str] = mapped_column(String(100))
    function: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    policy: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    release: Mapped[Release] = relationship(back_populates="addons")


class ReleasedFile(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("release_id", "addon_name", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    addon_name: Mapped[str | None] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(500))
    stream_id: Mapped[str | None] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    plain_size: Mapped[int] = mapped_column(Integer)
    encrypted: Mapped[bool] = mapped_column(Boolean)
    commitment: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    environment: Mapped[list[str]] = mapped_column(JSON, default=list)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    compression: Mapped[str] = mapped_column(String(16), default="none")
    plain_digest: Mapped[str | None] = mapped_column(String(64))
    release: Mapped[Release] = relationship(back_populates="files")
    patches: Mapped[list[Patch]] = relationship(back_populates="file")

    @property
    def installed_digest(self) -> str:
        """SHA-256 of the file as installed: decompressed, or for encrypted add-ons (kept
        encrypted in the client's vault) as stored. ``plain_digest`` of an encrypted file is
        the plaintext's, known only to the store, which reuses unchanged ciphertext by it."""
        if self.encrypted:
            return self.digest
        return self.plain_digest or self.digest


class Patch(Base):
    """A zstd patch-from delta that turns an earlier release's file into ``file``.

    For an encrypted add-on the delta is between plaintexts and is itself encrypted under the
    new file's content key; ``stream_header`` is the new file's stream header, with which the
    client re-encrypts what it rebuilt into exactly the published (signed) ciphertext.
    """

    __tablename__ = "patches"
    __table_args__ = (UniqueConstraint("file_id", "base_digest"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    base_digest: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    stream_header: Mapped[bytes | None] = mapped_column(LargeBinary)
    file: Mapped[ReleasedFile] = relationship(back_populates="patches")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("customer_id", "addon_id", "os_release", name="uq_orders_customer_addon"),
        UniqueConstraint("customer_id", "idempotency_key", name="uq_orders_customer_idem"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    addon_id: Mapped[int] = mapped_column(ForeignKey("addons.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # pending | paid | failed | refunded
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    charge_id: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    upgrade_of: Mapped[str | None] = mapped_column(String(40))  # the paid order it extends
    # The OS release an add-on bound to it was bought for; '' when the add-on is not bound.
    os_release: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    paid_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # a refund keeps it


class Licence(Base):
    __tablename__ = "licences"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    addon_id: Mapped[int] = mapped_column(ForeignKey("addons.id"))
    counter: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime]
    document: Mapped[dict[str, Any]]


class UsageEvent(Base):
    """A metered use (DESIGN.md section 5, "Metered use"), charged at most once.

    ``event_id`` is made by the client when the use happens; unique per customer, so an event
    sent twice is found, not charged again. ``pending`` covers the gap between recording and
    the gateway's answer; a ``declined`` event is charged again (a new attempt) when the
    customer's client sends it again, typically after a card update.
    """

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("customer_id", "event_id", name="uq_usage_customer_event"),
        UniqueConstraint("customer_id", "order_id", "seq", name="uq_usage_order_seq"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    addon_id: Mapped[int] = mapped_column(ForeignKey("addons.id"))
    name: Mapped[str] = mapped_column(String(100))
    used_at: Mapped[dt.datetime]
    received_at: Mapped[dt.datetime]
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # pending | charged | declined | recorded; missing: a number the client's meter counted
    # that never arrived (a deleted use), recorded when a renewal finds the gap
    status: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int | None] = mapped_column(BigInteger)  # the use's number (runtime/meter.py)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    charge_id: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(64))


class TufMetadata(Base):
    """Every version of every TUF role the store has signed (see store/repository.py)."""

    __tablename__ = "tuf_metadata"
    role: Mapped[str] = mapped_column(String(120), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]


class StoreDocument(Base):
    """Blobs that are store documents (descriptor, catalog): public, served by digest."""

    __tablename__ = "store_documents"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class CardDecline(Base):
    """A card the gateway declined, by keyed hash (store/services/card_checks.py), for a day."""

    __tablename__ = "card_declines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    declined_at: Mapped[dt.datetime] = mapped_column(index=True)


class RequestNonce(Base):
    """Nonces of accepted signed requests, kept until their signature window has passed."""

    __tablename__ = "request_nonces"
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class AdminSession(Base):
    """A signed-in admin browser: the session id's SHA-256 (the id itself lives only in the
    browser's cookie) and the CSRF token its forms must carry."""

    __tablename__ = "admin_sessions"
    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class ClientRelease(Base):
    """A release of the download program (wire/client_archive.py): the archive is a blob, the
    newest one is the client role's only TUF target."""

    __tablename__ = "client_releases"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[dt.datetime]


class SandboxCard(Base):
    """The sandbox gateway's vault: what a processor keeps about a verified card.

    Not the store's data: the store sees only the token. The number itself is not kept here
    either, only the behaviour the test card number selects.
    """

    __tablename__ = "sandbox_cards"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    behaviour: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]


class SandboxCharge(Base):
    __tablename__ = "sandbox_charges"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed | refunded
    failure_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


def make_engine(url: str) -> Engine:
    """An engine for a SQLite file (WAL, busy timeout, foreign keys) or PostgreSQL."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)
