"""What may never be published: the store's own folder and its secrets.

`tollgate store publish` and `publish-client` make files public downloads. Their walks follow no
link (`tollgate.files.plain_files`); this guard adds two checks that hold whatever the links:
the source folder must not contain the store folder (nor lie inside it), and no published file
may have the bytes of one of the store's key files (compared by SHA-256, and only for files of
a key file's size, so it costs nothing on real products). The second is a last line of defence:
a key copied into a product by hand is still refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tollgate.files import open_plain, plain_files


class PublishRefused(Exception):
    """The source would publish something of the store's own."""


@dataclass(frozen=True)
class PublishGuard:
    store_path: Path
    secrets: dict[str, str]  # SHA-256 hex of a key file -> its name in the store folder
    sizes: frozenset[int]  # the key files' sizes: other files need no hashing

    @classmethod
    def of_store(cls, store_path: Path) -> PublishGuard:
        """A guard for the store folder at ``store_path``: every file under its ``keys/``."""
        store_path = store_path.resolve()
        keys = store_path / "keys"
        secrets, sizes = {}, set()
        for rel in plain_files(keys) if keys.is_dir() else []:
            with open_plain(keys / rel) as fh:
                data = fh.read()
            secrets[hashlib.sha256(data).hexdigest()] = f"keys/{rel}"
            sizes.add(len(data))
        return cls(store_path, secrets, frozenset(sizes))

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
        key = self.secrets.get(hashlib.sha256(data).hexdigest())
        if key is not None:
            raise PublishRefused(f"{name} has the same bytes as the store's key file {key}")

    def check_file(self, name: str, path: Path) -> None:
        """`check_bytes` for a file on disk, read only when its size is a key file's size."""
        if path.lstat().st_size in self.sizes:
            with open_plain(path) as fh:
                self.check_bytes(name, fh.read())
