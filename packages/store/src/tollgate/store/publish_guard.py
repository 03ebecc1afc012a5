"""What may never be published: the store's own folder and its secrets.

`tollgate store publish` and `publish-client` make files public downloads. Their walks follow no
link (`tollgate.files.plain_files`); this guard adds two checks that hold whatever the links:
the source folder must not contain the store folder (nor lie inside it), and no published file
may have the bytes of one of the store's key files (compared by SHA-256). The second is a last
line of defence: a key copied into a product by hand is still refused. Product files are copied
into a private folder first (`stage`), through descriptors that follow no link and refusing
hard links, and published from there, so a folder swapped for a link while a publish runs
changes nothing that is published.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tollgate.files import UnsafeTree, open_below, open_plain, plain_files


class PublishRefused(Exception):
    """The source would publish something of the store's own."""


@dataclass(frozen=True)
class PublishGuard:
    store_path: Path
    secrets: dict[str, str]  # SHA-256 hex of a key file -> its name in the store folder

    @classmethod
    def of_store(cls, store_path: Path) -> PublishGuard:
        """A guard for the store folder at ``store_path``: every file under its ``keys/``."""
        store_path = store_path.resolve()
        keys = store_path / "keys"
        secrets = {}
        for rel in plain_files(keys) if keys.is_dir() else []:
            with open_plain(keys / rel) as fh:
                secrets[hashlib.sha256(fh.read()).hexdigest()] = f"keys/{rel}"
        return cls(store_path, secrets)

    def check_source(self, source: Path) -> Path:
        """``source`` resolved, refused if it holds the store folder or lies inside it."""
        root = source.resolve()
        if root == self.store_path or self.store_path.is_relative_to(root):
            raise PublishRefused(
                f"{source} contains the store folder {self.store_path}: publish from a folder "
                "that holds only the product"
            )
        if root.is_relative_to(self.store_path):
            raise PublishRefused(f"{source} lies inside the store folder {self.store_path}")
        return root

    def check_bytes(self, name: str, data: bytes) -> None:
        """Refuse ``data`` (to be published as ``name``) if it is one of the store's keys."""
        self.check_digest(name, hashlib.sha256(data).hexdigest())

    def check_digest(self, name: str, sha256: str) -> None:
        """Refuse a file to be published as ``name`` whose SHA-256 (hex) is a key file's."""
        key = self.secrets.get(sha256)
        if key is not None:
            raise PublishRefused(f"{name} has the same bytes as the store's key file {key}")

    def stage(self, root: Path, rels: list[str], into: Path) -> None:
        """Copy each file ``rels`` names under ``root`` into the private folder ``into``,
        opened without following any link on the way and refused with a second name (a hard
        link), checking the bytes copied against the store's keys. Publishing then reads only
        the copies: what is checked is what is published, whatever changes in ``root`` in the
        meantime."""
        for rel in rels:
            target = into / rel
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            digest = hashlib.sha256()
            try:
                with open_below(root, rel) as source, target.open("xb") as out:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            except UnsafeTree as exc:
                raise PublishRefused(f"{exc}: publish follows no link (nothing was read)") from exc
            self.check_digest(rel, digest.hexdigest())
