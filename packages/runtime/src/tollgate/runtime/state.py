"""The client state (the patent's "installed information storage"): one SQLite file,
``HOME/state.db``, written by the download program and read by the runtime.

Tables:

- ``products``: the current version of each installed product (store, name, version, folder,
  entry point). The runtime runs exactly what this says; a version is current only once every
  one of its files is in place, because the switch to it is one transaction.
- ``files``: every installed file: product, kind (core/add-on), add-on, name (its path in the
  product), version, function, revision, where it is, SHA-256, size, TUF target, licence.
- ``addons``: bought add-ons and the licence that opens each.
- ``offers``: the add-ons each installed release offers, from its signed release target: the
  Python package each provides (so ``import mt_dic2`` can say what to buy), price, whether
  free, and the price per use.
- ``uses``: every metered use, from the moment the runtime records it until the store has
  charged (or declined) it; the download program sends the queued ones. ``seq`` numbers the
  uses of one licence (none for uses recorded before schema 3).
- ``meter``: per store, the sealed meter (runtime/meter.py): time mark, generation and the
  per-licence use counts that the rows above cannot be trusted for.
- ``history``: what was installed, updated, bought and pruned, and when; for a purchase, its
  order and what it cost (schema 4).
- ``journal``: installs between staging and switching. The next run of the download program
  finishes each one (every staged file present and verified) or rolls it back.

Only the standard library: core software reads this through ``tollgate.runtime``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate.runtime.errors import (
    ClientStateDamaged,
    ClientStateUnavailable,
    TollgateRuntimeError,
    explain_os_error,
    no_space_left,
)
from tollgate.wire.addons import price_terms

SCHEMA_VERSION = 4
V1 = """
CREATE TABLE products (
    store_id TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL,
    entry TEXT NOT NULL, installed_at TEXT NOT NULL,
    PRIMARY KEY (store_id, name));
CREATE TABLE files (
    store_id TEXT NOT NULL, product TEXT NOT NULL, kind TEXT NOT NULL,
    addon TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, version TEXT NOT NULL,
    function TEXT NOT NULL, revision INTEGER NOT NULL, path TEXT NOT NULL,
    digest TEXT NOT NULL, size INTEGER NOT NULL, target TEXT NOT NULL, licence_id TEXT,
    PRIMARY KEY (store_id, product, addon, name));
CREATE TABLE addons (
    store_id TEXT NOT NULL, product TEXT NOT NULL, addon TEXT NOT NULL, version TEXT NOT NULL,
    function TEXT NOT NULL, revision INTEGER NOT NULL, licence_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    PRIMARY KEY (store_id, product, addon));
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, store_id TEXT NOT NULL,
    product TEXT NOT NULL, action TEXT NOT NULL, version TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE journal (
    store_id TEXT NOT NULL, product TEXT NOT NULL, version TEXT NOT NULL,
    staging TEXT NOT NULL, target TEXT NOT NULL, plan TEXT NOT NULL, started_at TEXT NOT NULL,
    PRIMARY KEY (store_id, product));
"""
V2 = """
CREATE TABLE offers (
    store_id TEXT NOT NULL, product TEXT NOT NULL, addon TEXT NOT NULL, version TEXT NOT NULL,
    package TEXT, price INTEGER NOT NULL, currency TEXT NOT NULL, free INTEGER NOT NULL,
    per_use INTEGER,
    PRIMARY KEY (store_id, product, addon));
CREATE INDEX offers_package ON offers (package);
CREATE TABLE uses (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, product TEXT NOT NULL,
    addon TEXT NOT NULL, order_id TEXT NOT NULL, name TEXT NOT NULL, at TEXT NOT NULL,
    status TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
    charge_id TEXT, sent_at TEXT);
CREATE INDEX uses_addon ON uses (store_id, product, addon);
"""
V3 = """
CREATE TABLE meter (store_id TEXT PRIMARY KEY, sealed TEXT NOT NULL);
ALTER TABLE uses ADD COLUMN seq INTEGER;
"""
V4 = """
ALTER TABLE history ADD COLUMN order_id TEXT;
ALTER TABLE history ADD COLUMN amount INTEGER;
ALTER TABLE history ADD COLUMN currency TEXT;
"""
SCHEMA = V1 + V2 + V3 + V4
# Statements that bring a state of the version before each key up to it.
UPGRADES = {2: V2, 3: V3, 4: V4}


StateDamaged = ClientStateDamaged  # what the state raises: damaged, or from a newer client
# SQLite's primary result codes (https://sqlite.org/rescode.html) that are not damage.
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 3, 5, 6, 8, 10, 13, 14
NEARLY_FULL = 1024 * 1024  # bytes free below which an I/O error is the disk being full


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < NEARLY_FULL
    except OSError:
        return False


@dataclass(frozen=True)
class InstalledProduct:
    store_id: str
    name: str
    version: str
    path: Path
    entry: str
    installed_at: str


@dataclass(frozen=True)
class InstalledFile:
    store_id: str
    product: str
    kind: str
    addon: str | None
    name: str
    version: str
    function: str
    revision: int
    path: Path
    digest: str
    size: int
    target: str
    licence_id: str | None


@dataclass(frozen=True)
class BoughtAddOn:
    store_id: str
    product: str
    addon: str
    version: str
    function: str
    revision: int
    licence_id: str
    order_id: str


@dataclass(frozen=True)
class OfferedAddOn:
    store_id: str
    product: str
    addon: str
    version: str
    package: str | None
    price: int
    currency: str
    free: bool
    per_use: int | None

    @property
    def terms(self) -> str:
        return price_terms(self.price, self.currency, self.per_use)


@dataclass(frozen=True)
class Use:
    """A metered use: ``queued`` until sent, then ``charged``, ``recorded`` (not charged per
    use) or ``declined`` (sent again, and charged, once the card works)."""

    event_id: str
    store_id: str
    product: str
    addon: str
    order_id: str
    name: str
    at: str
    status: str
    amount: int
    currency: str
    charge_id: str | None
    sent_at: str | None
    seq: int | None = None  # the use's number among its licence's uses (runtime/meter.py)


@dataclass(frozen=True)
class JournalEntry:
    store_id: str
    product: str
    version: str
    staging: Path
    target: Path
    plan: dict[str, Any]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ClientState:
    """The state database. Reads need nothing; the first write creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        try:
            if not write and not self.path.exists():  # nothing installed yet: an empty state
                conn = sqlite3.connect(":memory:", isolation_level=None)
                _create_schema(conn)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except OSError as exc:
            raise ClientStateUnavailable(
                explain_os_error(exc, "opening the client state", self.path)
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from exc
        conn.row_factory = sqlite3.Row
        try:
            self._check_schema(conn, write=write)
            yield conn
        except sqlite3.DatabaseError as exc:
            raise self._failure(exc) from exc
        finally:
            conn.close()

    def _failure(self, exc: sqlite3.DatabaseError) -> TollgateRuntimeError:
        """What an SQLite error means for the customer: only a file SQLite cannot make sense
        of is damaged; a folder it may not write, a full disk or a lock is the machine's state
        now, and moving the file aside would lose purchases' records for nothing."""
        primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if primary in (_READONLY, _PERM, _CANTOPEN):
            return ClientStateUnavailable(
                f"the client state {self.path} cannot be opened here ({exc}): its folder is "
                "read-only or belongs to someone else (SQLite writes beside the file even to "
                "read it). Fix its permissions, or choose another folder with --home "
                "(TOLLGATE_HOME); nothing is wrong with the file"
            )
        if primary == _FULL or (primary == _IOERR and _nearly_full(self.path)):
            # SQLite says "disk I/O error", not "full", when the disk fills under its WAL
            # index or a checkpoint: the free space tells which it was.
            return ClientStateUnavailable(
                no_space_left(self.path, "writing the client state", "nothing was lost")
            )
        if primary in (_BUSY, _LOCKED):
            return ClientStateUnavailable(
                f"the client state {self.path} is in use by another tollgate command: run "
                "this one again when it has finished"
            )
        if primary == _IOERR:
            return ClientStateUnavailable(
                f"the client state {self.path} cannot be read or written ({exc}): check the "
                "disk and its free space, then run the command again"
            )
        return StateDamaged(
            f"the client state {self.path} cannot be read ({exc}). Move it aside, then "
            "run `tollgate install` for each product and `tollgate buy` for each add-on "
            "again: the store keeps your purchases and charges nothing twice"
        )

    @staticmethod
    def _check_schema(conn: sqlite3.Connection, *, write: bool) -> None:
        """Create the schema on the first write; bring an older one up to date (even for a
        reader: the upgrades only add tables); refuse one from a newer client."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version} is from a newer client")
        if version == SCHEMA_VERSION or (version == 0 and not write):
            return
        if version == 0:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                _execute_all(conn, SCHEMA)
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    _execute_all(conn, UPGRADES[step])
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything in it lands together or not at all."""
        with self._connect(write=True) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads only (an empty state when there is no file yet)."""
        with self._connect(write=False) as conn:
            yield conn

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._connect(write=False) as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    # -- reading ------------------------------------------------------------------------------

    def products(self, name: str | None = None) -> list[InstalledProduct]:
        sql = "SELECT * FROM products"
        rows = (
            self._rows(sql + " WHERE name = ? ORDER BY store_id", [name])
            if name is not None
            else self._rows(sql + " ORDER BY name, store_id")
        )
        return [_product(r) for r in rows]

    def product(self, store_id: str, name: str) -> InstalledProduct | None:
        rows = self._rows(
            "SELECT * FROM products WHERE store_id = ? AND name = ?", [store_id, name]
        )
        return _product(rows[0]) if rows else None

    def files(self, store_id: str, product: str) -> list[InstalledFile]:
        rows = self._rows(
            "SELECT * FROM files WHERE store_id = ? AND product = ? ORDER BY addon, name",
            [store_id, product],
        )
        return [
            InstalledFile(
                store_id=r["store_id"],
                product=r["product"],
                kind=r["kind"],
                addon=r["addon"] or None,
                name=r["name"],
                version=r["version"],
                function=r["function"],
                revision=r["revision"],
                path=Path(r["path"]),
                digest=r["digest"],
                size=r["size"],
                target=r["target"],
                licence_id=r["licence_id"],
            )
            for r in rows
        ]

    def bought(self, store_id: str) -> list[BoughtAddOn]:
        """Every add-on bought from one store, all products."""
        rows = self._rows(
            "SELECT * FROM addons WHERE store_id = ? ORDER BY product, addon", [store_id]
        )
        return [BoughtAddOn(**dict(r)) for r in rows]

    def addons(self, store_id: str, product: str) -> dict[str, BoughtAddOn]:
        rows = self._rows(
            "SELECT * FROM addons WHERE store_id = ? AND product = ? ORDER BY addon",
            [store_id, product],
        )
        return {r["addon"]: BoughtAddOn(**dict(r)) for r in rows}

    def offers(self, store_id: str, product: str) -> dict[str, OfferedAddOn]:
        rows = self._rows(
            "SELECT * FROM offers WHERE store_id = ? AND product = ? ORDER BY addon",
            [store_id, product],
        )
        return {r["addon"]: _offer(r) for r in rows}

    def offers_of_package(self, package: str) -> list[OfferedAddOn]:
        """The add-ons (of any installed product) that provide a Python package."""
        rows = self._rows("SELECT * FROM offers WHERE package = ? ORDER BY store_id", [package])
        return [_offer(r) for r in rows]

    def uses(self, store_id: str | None = None, *, statuses: Iterable[str] = ()) -> list[Use]:
        sql, params = "SELECT * FROM uses WHERE 1 = 1", []
        if store_id is not None:
            sql += " AND store_id = ?"
            params.append(store_id)
        wanted = list(statuses)
        if wanted:
            sql += f" AND status IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        return [Use(**dict(r)) for r in self._rows(sql + " ORDER BY at, event_id", params)]

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._rows("SELECT * FROM history ORDER BY id DESC LIMIT ?", [limit])
        return [dict(r) for r in rows]

    def journal(self) -> list[JournalEntry]:
        return [
            JournalEntry(
                r["store_id"],
                r["product"],
                r["version"],
                Path(r["staging"]),
                Path(r["target"]),
                json.loads(r["plan"]),
            )
            for r in self._rows("SELECT * FROM journal ORDER BY started_at")
        ]


def record_history(
    conn: sqlite3.Connection,
    store_id: str,
    product: str,
    action: str,
    version: str,
    detail: str,
    *,
    order_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO history (at, store_id, product, action, version, detail, order_id, amount, "
        "currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (now_iso(), store_id, product, action, version, detail, order_id, amount, currency),
    )


def _execute_all(conn: sqlite3.Connection, script: str) -> None:
    """Statement by statement: ``executescript`` would commit the open transaction first."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _create_schema(conn: sqlite3.Connection) -> None:
    _execute_all(conn, SCHEMA)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _offer(r: sqlite3.Row) -> OfferedAddOn:
    return OfferedAddOn(**{**dict(r), "free": bool(r["free"])})


def _product(r: sqlite3.Row) -> InstalledProduct:
    return InstalledProduct(
        r["store_id"], r["name"], r["version"], Path(r["path"]), r["entry"], r["installed_at"]
    )
