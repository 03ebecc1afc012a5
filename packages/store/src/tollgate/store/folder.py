"""The store folder made by ``tollgate store init``: config, keys, blobs and the SQLite file.

```
DIR/store.toml          name, store id, database URL, part_size (optional, bytes),
                        public_url (optional: the URL customers reach the store at)
DIR/keys/master.key     32 bytes: encrypts K and PK in the database (never in the database)
DIR/keys/sealing.key    HPKE private key (ML-KEM-768 seed ‖ X25519), for registrations
DIR/keys/licence.key    Ed25519: signs licences and receipts
DIR/keys/admin-token.sha256  SHA-256 (hex) of the admin pages' token; the token itself is
                        shown once, by `store init` or `store admin-token`
DIR/keys/tuf/*.key      Ed25519: the TUF keys, <role>-<key id>.key (two for root; targets,
                        products, snapshot, timestamp); see store/tuf_keys.py
DIR/blobs/<sha256>      released files, by digest (add-ons only as ciphertext)
DIR/store.db            SQLite database (the embedded default)
```
The folder and everything in it is owner-only (folders 0700, files 0600, the SQLite file made
0600 before SQLite opens it, so its WAL and SHM files are too); `tollgate store serve` refuses
a folder whose contents others can read (`check_private`). The embedded default keeps every
key here; a production store would hold the master key in a KMS, the TUF root keys offline and
the products key with the vendor: only the snapshot and timestamp keys need to be on the
server.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tollgate.crypto.sealing import SealingPrivateKey
from tollgate.files import write_atomic
from tollgate.store.blobs import PART_SIZE
from tollgate.store.publish_guard import PublishGuard
from tollgate.store.tuf_keys import TufKeyring

MIN_PART_SIZE = 4096


class StoreFolderError(Exception):
    """The folder is missing, incomplete or not a store."""


URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


SQLITE = "sqlite:///"
DEFAULT_DATABASE = "store.db"  # in the store folder


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class StoreConfig:
    name: str
    store_id: str
    database_url: str
    part_size: int = PART_SIZE
    public_url: str | None = None


class StoreFolder:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()

    @property
    def config_path(self) -> Path:
        return self.path / "store.toml"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def blobs_dir(self) -> Path:
        return self.path / "blobs"

    def default_database_url(self) -> str:
        """SQLite in the folder, named relative to it: a copied or moved folder takes its own
        database along (never the original's)."""
        return f"{SQLITE}{DEFAULT_DATABASE}"

    def database_url(self, configured: str) -> str:
        """The URL to open: a relative SQLite path is the folder's own file, and a SQLite file
        that is not there is an error (opening it would make an empty store)."""
        if not configured.startswith(SQLITE):
            return configured
        where = Path(configured.removeprefix(SQLITE))
        path = where if where.is_absolute() else self.path / where
        if not path.is_file():
            raise StoreFolderError(
                f"{self.config_path}: the database {path} is not there. If the folder was "
                f'moved or copied, set database_url = "{SQLITE}{DEFAULT_DATABASE}" (the '
                "folder's own store.db) or point it at the database"
            )
        return f"{SQLITE}{path}"

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        name: str,
        database_url: str | None = None,
        part_size: int = PART_SIZE,
        public_url: str | None = None,
    ) -> StoreFolder:
        """Make a new store folder with fresh keys. Refuses a folder that already has one."""
        if part_size < MIN_PART_SIZE:
            raise StoreFolderError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        if public_url is not None and not URL_RE.fullmatch(public_url):
            raise StoreFolderError(f"{public_url!r} is not an http(s) URL")
        folder = cls(path)
        if folder.config_path.exists():
            raise StoreFolderError(f"{folder.path} already holds a store")
        folder.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder.path, 0o700)
        folder.keys_dir.mkdir(mode=0o700, exist_ok=True)
        folder.blobs_dir.mkdir(mode=0o700, exist_ok=True)
        _write_secret(folder.keys_dir / "master.key", secrets.token_bytes(32))
        _write_secret(folder.keys_dir / "sealing.key", SealingPrivateKey.generate().private_bytes())
        _write_secret(
            folder.keys_dir / "licence.key", Ed25519PrivateKey.generate().private_bytes_raw()
        )
        TufKeyring.create(folder.tuf_keys_dir)
        store_id = "st_" + secrets.token_hex(8)
        url = database_url or folder.default_database_url()
        if url.startswith(SQLITE):  # SQLite makes its WAL and SHM files with the file's mode
            where = Path(url.removeprefix(SQLITE))
            db_file = where if where.is_absolute() else folder.path / where
            if not db_file.exists():
                _write_secret(db_file, b"")
        _write_secret(
            folder.config_path,
            (
                "# Tollgate store configuration\n"
                f"name = {_toml_string(name)}\n"
                f"store_id = {_toml_string(store_id)}\n"
                f"database_url = {_toml_string(url)}\n"
                f"part_size = {part_size}  # bytes per signed download part\n"
                + ("" if public_url is None else f"public_url = {_toml_string(public_url)}\n")
            ).encode(),
        )
        return folder

    def check_private(self) -> None:
        """Refuse a store folder whose files or folders others may read or write, or that holds
        a symbolic link: the database holds sealed keys and customers' details, keys/ the
        store's secrets."""
        everything = [self.path, *sorted(self.path.rglob("*"))]
        links = [p for p in everything if p.is_symlink()]
        if links:
            raise StoreFolderError(
                f"{links[0]} is a symbolic link: the store folder must hold its own files "
                "(a link could lead to a folder others can read); replace it with what it "
                "points at"
            )
        exposed = [p for p in everything if p.stat().st_mode & 0o077]
        if exposed:
            names = ", ".join(str(p.relative_to(self.path.parent)) for p in exposed[:5])
            raise StoreFolderError(
                f"others can read or write {names}{' …' if len(exposed) > 5 else ''}: run "
                f"`chmod -R go-rwx {self.path}` and start the store again"
            )

    @property
    def admin_token_path(self) -> Path:
        return self.keys_dir / "admin-token.sha256"

    def issue_admin_token(self) -> str:
        """A new admin token (the previous one stops working); only its hash is kept. The
        token is 256 random bits, so a plain SHA-256 is as good as a slow password hash."""
        token = "tga_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        write_atomic(self.admin_token_path, digest.encode(), mode=0o600)
        return token

    def admin_token_matches(self, token: str) -> bool:
        try:
            stored = self.admin_token_path.read_text().strip()
        except OSError:
            return False
        given = hashlib.sha256(token.encode()).hexdigest()
        return bool(stored) and hmac.compare_digest(given, stored)

    @cached_property
    def config(self) -> StoreConfig:
        if not self.config_path.is_file():
            raise StoreFolderError(f"{self.path} is not a store folder (no store.toml)")
        try:
            raw = tomllib.loads(self.config_path.read_text())
            config = StoreConfig(
                str(raw["name"]),
                str(raw["store_id"]),
                self.database_url(str(raw["database_url"])),
                raw.get("part_size", PART_SIZE),
                raw.get("public_url"),
            )
        except (tomllib.TOMLDecodeError, KeyError) as exc:
            raise StoreFolderError(f"{self.config_path}: {exc}") from exc
        if config.public_url is not None and not (
            isinstance(config.public_url, str) and URL_RE.fullmatch(config.public_url)
        ):
            raise StoreFolderError(f"{self.config_path}: public_url must be an http(s) URL")
        if not isinstance(config.part_size, int) or config.part_size < MIN_PART_SIZE:
            raise StoreFolderError(
                f"{self.config_path}: part_size must be a whole number of bytes >= {MIN_PART_SIZE}"
            )
        return config

    def publish_guard(self) -> PublishGuard:
        """What `publish` and `publish-client` must never make public: this folder, its keys.
        Made afresh each time, so keys rotated since are known too."""
        return PublishGuard.of_store(self.path)

    @property
    def tuf_keys_dir(self) -> Path:
        return self.keys_dir / "tuf"

    def _key(self, name: str) -> bytes:
        try:
            return (self.keys_dir / name).read_bytes()
        except FileNotFoundError as exc:
            raise StoreFolderError(f"missing key file {self.keys_dir / name}") from exc

    @cached_property
    def keys(self) -> StoreKeys:
        return StoreKeys(
            master=self._key("master.key"),
            sealing=SealingPrivateKey(self._key("sealing.key")),
            licence=Ed25519PrivateKey.from_private_bytes(self._key("licence.key")),
            tuf=TufKeyring(self.tuf_keys_dir),
        )


@dataclass(frozen=True)
class StoreKeys:
    master: bytes
    sealing: SealingPrivateKey
    licence: Ed25519PrivateKey
    tuf: TufKeyring
