"""The store's TUF repository: what every client checks before it believes anything public.

Roles, as DESIGN.md section 4 lays them out:

```
root        threshold 2 of 2 keys            names the keys of every top-level role
targets     1 key                            the store descriptor; a delegation "catalog"
                                             (path "store/catalog.json") and one per product,
                                             products.<NAME> (paths "<NAME>/*/*/*"), both
                                             signed with the products key
catalog     1 key (the products key)         the catalog, re-signed at every publish
products.*  1 key (shared by all products)   the product's released files and patches
client      1 key (the products key)         the latest download program's wheels, "client/*/*"
snapshot    1 key (online)                   versions of targets and every products.* role
timestamp   1 key (online)                   version of snapshot; expires within a day
```

Metadata lives in the database (table ``tuf_metadata``, one row per role and version), so every
store process on one database serves the same repository; consistent snapshots are on, so a
client always reads one coherent state. The timestamp is re-signed by whichever process serves
it when less than ``TIMESTAMP_MARGIN`` of its day is left; a race between two processes is
settled by the (role, version) key, the loser reads the winner's row.

The catalog has a role of its own so that a publish re-signs only that role, the product's
role, snapshot and timestamp: ``targets.json`` (which names every product) changes only when a
product is added, so a client refreshing for one product does not fetch it again.

Store documents (descriptor, catalog) are targets whose bytes sit in the blob store and are
served by digest (``GET /v1/targets/store/<sha256>.<name>``). Product files are served by
``/v1/files/<sha256>`` as before; their TUF entry carries the install entry in ``custom``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from tollgate.store.blobs import BlobStore
from tollgate.store.db import StoreDocument, TufMetadata
from tollgate.store.tuf_keys import TufKeyring

Clock = Callable[[], dt.datetime]

TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")
ROTATABLE = ("root", "targets", "products", "snapshot", "timestamp")
PRODUCT_ROLE_PREFIX = "products."
CATALOG_ROLE = "catalog"
CLIENT_ROLE = "client"
CLIENT_PATHS = ["client/*/*"]
DOCUMENT_ROLES = {"descriptor.json": "targets", "catalog.json": CATALOG_ROLE}
EXPIRY = {
    "root": dt.timedelta(days=365),
    "targets": dt.timedelta(days=365),
    "products": dt.timedelta(days=365),
    "snapshot": dt.timedelta(days=7),
    "timestamp": dt.timedelta(days=1),
}
TIMESTAMP_MARGIN = dt.timedelta(hours=6)
SNAPSHOT_MARGIN = dt.timedelta(days=2)
ROOT_THRESHOLD = 2
_SERIALIZER = JSONSerializer(compact=True)


def product_role(product: str) -> str:
    return PRODUCT_ROLE_PREFIX + product


def product_paths(product: str) -> list[str]:
    """``<product>/<version>/<component>/<quoted file path>``: TUF matches path patterns one
    segment at a time, so a file path's own slashes are percent-encoded (see `target_path`)."""
    return [f"{product}/*/*/*"]


def store_target(name: str) -> str:
    return f"store/{name}"


def public(key: Ed25519PrivateKey) -> SSlibKey:
    return SSlibKey.from_crypto(key.public_key())


def _role_kind(role: str) -> str:
    delegated = role.startswith(PRODUCT_ROLE_PREFIX) or role in (CATALOG_ROLE, CLIENT_ROLE)
    return "products" if delegated else role


class Repository:
    """Reads and writes the store's TUF metadata through a SQLAlchemy session."""

    def __init__(self, keys: TufKeyring, blobs: BlobStore, clock: Clock) -> None:
        self.keys, self.blobs, self.clock = keys, blobs, clock

    # -- reading ------------------------------------------------------------------------------

    def latest_row(self, s: Session, role: str) -> TufMetadata | None:
        return s.scalars(
            select(TufMetadata)
            .where(TufMetadata.role == role)
            .order_by(TufMetadata.version.desc())
            .limit(1)
        ).first()

    def latest(self, s: Session, role: str) -> Metadata[Any] | None:
        row = self.latest_row(s, role)
        return None if row is None else Metadata.from_bytes(row.body)

    def version_bytes(self, s: Session, role: str, version: int) -> bytes | None:
        row = s.get(TufMetadata, (role, version))
        return None if row is None else row.body

    def initialised(self, s: Session) -> bool:
        return self.latest_row(s, "root") is not None

    # -- writing ------------------------------------------------------------------------------

    def _expires(self, role: str) -> dt.datetime:
        return (self.clock() + EXPIRY[_role_kind(role)]).replace(microsecond=0)

    def _signing_keys(self, s: Session, md: Metadata[Any], role: str) -> list[Ed25519PrivateKey]:
        """The keys the current metadata names for ``role`` (root signs with its own)."""
        if isinstance(md.signed, Root):
            ids = md.signed.roles["root"].keyids
        elif role in TOP_LEVEL:
            ids = self._require(s, "root").signed.roles[role].keyids
        else:
            delegations = self._require(s, "targets").signed.delegations
            if delegations is None or delegations.roles is None:
                raise LookupError("the top-level targets metadata has no delegations")
            ids = delegations.roles[role].keyids
        return [self.keys.key(i) for i in ids]

    def _store(
        self,
        s: Session,
        md: Metadata[Any],
        role: str,
        also: list[Ed25519PrivateKey] | None = None,
    ) -> None:
        """Sign ``md`` with its role's keys (and ``also``: the old root keys in a rotation)."""
        md.signed.expires = self._expires(role)
        md.signatures.clear()
        for key in [*self._signing_keys(s, md, role), *(also or [])]:
            md.sign(CryptoSigner(key), append=True)
        s.add(
            TufMetadata(
                role=role,
                version=md.signed.version,
                body=md.to_bytes(_SERIALIZER),
                created_at=self.clock(),
            )
        )
        s.flush()

    def initialise(self, s: Session, documents: Mapping[str, bytes]) -> None:
        """Root, targets (the descriptor), the catalog role, snapshot and timestamp."""
        root = Root(consistent_snapshot=True)
        for role in TOP_LEVEL:
            for key in self.keys.of_role(role):
                root.add_key(public(key), role)
        root.roles["root"].threshold = ROOT_THRESHOLD
        self._store(s, Metadata(root), "root")
        targets = Targets()
        targets.delegations = Delegations(keys={}, roles={})
        self._store(s, Metadata(targets), "targets")
        self.set_documents(s, documents)

    def set_documents(self, s: Session, documents: Mapping[str, bytes]) -> None:
        """Replace store documents (e.g. the catalog after a publish), if they changed."""
        unknown = sorted(set(documents) - set(DOCUMENT_ROLES))
        if unknown:
            raise ValueError(f"not store documents: {unknown}")
        changed = []
        for role in sorted({DOCUMENT_ROLES[n] for n in documents}):
            mine = {n: d for n, d in documents.items() if DOCUMENT_ROLES[n] == role}
            if role != "targets" and self._delegate(s, role, [store_target(n) for n in mine]):
                changed.append("targets")
            current = self.latest(s, role)
            md = current or Metadata(Targets())
            before = {p: t.hashes for p, t in md.signed.targets.items()}
            self._put_documents(s, md.signed, mine)
            if current is None or before != {p: t.hashes for p, t in md.signed.targets.items()}:
                if current is not None:
                    md.signed.version += 1
                self._store(s, md, role)
                changed.append(role)
        if changed or self.latest_row(s, "timestamp") is None:
            self._commit(s, changed)

    def set_product_targets(self, s: Session, product: str, targets: Iterable[TargetFile]) -> None:
        """A new version of the product's role listing exactly ``targets``; the top-level
        targets delegate to it the first time."""
        role = product_role(product)
        changed = ["targets"] if self._delegate(s, role, product_paths(product)) else []
        current = self.latest(s, role)
        version = 1 if current is None else current.signed.version + 1
        listing = Targets(version=version, targets={t.path: t for t in targets})
        self._store(s, Metadata(listing), role)
        changed.append(role)
        self._commit(s, changed)

    def set_client_targets(self, s: Session, targets: Iterable[TargetFile]) -> None:
        """A new version of the client role listing only ``targets``: the latest download
        program's wheels (an older one is no longer a target, so it cannot be offered again)."""
        changed = ["targets"] if self._delegate(s, CLIENT_ROLE, CLIENT_PATHS) else []
        current = self.latest(s, CLIENT_ROLE)
        version = 1 if current is None else current.signed.version + 1
        listing = Targets(version=version, targets={t.path: t for t in targets})
        self._store(s, Metadata(listing), CLIENT_ROLE)
        self._commit(s, [*changed, CLIENT_ROLE])

    def _delegate(self, s: Session, role: str, paths: list[str]) -> bool:
        """Make sure the top-level targets delegate ``paths`` to ``role`` (signed with the
        products key), and list none of them itself; True if targets was re-signed."""
        top = self._require(s, "targets")
        delegations = top.signed.delegations
        if delegations is None or delegations.roles is None:
            raise LookupError("the top-level targets metadata has no delegations")
        if role in delegations.roles:
            return False
        catalog = delegations.roles.get(CATALOG_ROLE)
        if catalog is None:  # the first delegation: the products key starts here
            key = public(self.keys.of_role("products")[0])
            delegations.keys[key.keyid] = key
            keyids = [key.keyid]
        else:
            keyids = list(catalog.keyids)
        delegations.roles[role] = DelegatedRole(role, keyids, 1, True, paths=paths)
        for path in paths:  # a repository made before this role listed it at the top
            top.signed.targets.pop(path, None)
        top.signed.version += 1
        self._store(s, top, "targets")
        return True

    def rotate(self, s: Session, roles: Iterable[str]) -> list[str]:
        """New keys for ``roles`` (any of root, targets, products, snapshot, timestamp): a new
        root version signed by the old root keys and the new ones, every metadata the rotated
        keys sign re-signed, a new snapshot and timestamp. Returns the ids of the retired keys,
        whose files the caller removes once this transaction is committed."""
        wanted = set(roles)
        unknown = wanted - set(ROTATABLE)
        if unknown or not wanted:
            raise ValueError(f"roles to rotate are among {', '.join(ROTATABLE)}")
        root = self._require(s, "root")
        old_root = [self.keys.key(i) for i in root.signed.roles["root"].keyids]
        retired: list[str] = []
        for role in TOP_LEVEL:
            if role not in wanted:
                continue
            for kid in list(root.signed.roles[role].keyids):
                root.signed.revoke_key(kid, role)
                retired.append(kid)
            for _ in range(ROOT_THRESHOLD if role == "root" else 1):
                key = Ed25519PrivateKey.generate()
                self.keys.add(role, key)
                root.signed.add_key(public(key), role)
        root.signed.version += 1
        self._store(s, root, "root", also=old_root if "root" in wanted else None)
        changed = []
        if "products" in wanted:
            retired += self._rotate_delegation_key(s)
            changed.append("targets")
            resign = self._delegated_roles(s)
        else:
            resign = ["targets"] if "targets" in wanted else []
        for role in resign:
            md = self._require(s, role)
            md.signed.version += 1
            self._store(s, md, role)
        self._commit(s, changed + resign)
        return retired

    def _rotate_delegation_key(self, s: Session) -> list[str]:
        """One new products key for every delegated role, named in a new targets version
        (stored before the roles are re-signed with it)."""
        top = self._require(s, "targets")
        delegations = top.signed.delegations
        if delegations is None or delegations.roles is None:
            raise LookupError("the top-level targets metadata has no delegations")
        key = Ed25519PrivateKey.generate()
        self.keys.add("products", key)
        new = public(key)
        retired = list(delegations.keys)
        delegations.keys = {new.keyid: new}
        for delegated in delegations.roles.values():
            delegated.keyids = [new.keyid]
        top.signed.version += 1
        self._store(s, top, "targets")
        return retired

    def fresh_timestamp(self, s: Session) -> bytes:
        """The timestamp to serve: re-signed (with a fresh snapshot when that is due too) when
        less than ``TIMESTAMP_MARGIN`` of it is left."""
        row = self._require_row(s, "timestamp")
        now = self.clock()
        if Metadata.from_bytes(row.body).signed.expires - now > TIMESTAMP_MARGIN:
            return row.body
        snapshot = self._require(s, "snapshot")
        try:
            with s.begin_nested():
                if snapshot.signed.expires - now <= SNAPSHOT_MARGIN:
                    self._commit(s, [])
                else:
                    self._new_timestamp(s, snapshot.signed.version)
        except IntegrityError:  # another process re-signed it first
            pass
        return self._require_row(s, "timestamp").body

    def _commit(self, s: Session, changed: list[str]) -> None:
        """New snapshot (naming the current version of every targets role) and timestamp."""
        snapshot = self.latest(s, "snapshot")
        if snapshot is None:
            snapshot = Metadata(Snapshot())
        else:
            snapshot.signed.version += 1
        meta = {"targets.json": MetaFile(self._require(s, "targets").signed.version)}
        for role in self._delegated_roles(s):
            latest = self._require(s, role)
            meta[f"{role}.json"] = MetaFile(latest.signed.version)
        snapshot.signed.meta = meta
        self._store(s, snapshot, "snapshot")
        self._new_timestamp(s, snapshot.signed.version)

    def _new_timestamp(self, s: Session, snapshot_version: int) -> None:
        current = self.latest(s, "timestamp")
        version = 1 if current is None else current.signed.version + 1
        ts = Timestamp(version=version, snapshot_meta=MetaFile(snapshot_version))
        self._store(s, Metadata(ts), "timestamp")

    def _delegated_roles(self, s: Session) -> list[str]:
        top = self._require(s, "targets")
        roles = top.signed.delegations.roles if top.signed.delegations else None
        return sorted(roles or {})

    def _put_documents(self, s: Session, targets: Targets, documents: Mapping[str, bytes]) -> None:
        for name, data in documents.items():
            digest = self.blobs.write_bytes(data).digest
            path = store_target(name)
            targets.targets[path] = TargetFile.from_data(path, data, ["sha256"])
            if s.get(StoreDocument, digest) is None:
                s.add(StoreDocument(digest=digest, name=name))

    def _require_row(self, s: Session, role: str) -> TufMetadata:
        row = self.latest_row(s, role)
        if row is None:
            raise LookupError(f"the repository has no {role} metadata yet")
        return row

    def _require(self, s: Session, role: str) -> Metadata[Any]:
        return Metadata.from_bytes(self._require_row(s, role).body)
