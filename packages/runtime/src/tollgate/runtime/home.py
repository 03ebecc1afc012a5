"""The client's folder: one layout, read by the runtime and written by the client.

```
HOME/stores/<store id>/account.json     store URL, pinned keys, customer id, binding
HOME/stores/<store id>/keyfile.json     K sealed to the binding
HOME/stores/<store id>/licences/<id>.json
HOME/stores/<store id>/orders/<order id>.json   the store's answer to each order: amount, licence
HOME/stores/<store id>/sync.lock        held while `tollgate sync` talks to that store
HOME/stores/<store id>/purchase.lock    held while `tollgate buy` orders and fetches an add-on
HOME/products/<store id>/<product>/<version>/   core files, installed openly
HOME/products/<store id>/<product>/.<version>.staging/   an install being fetched
HOME/vault/<store id>/<product>/<addon>/<version>/<sha256>   add-on files, encrypted
HOME/state.db                           what is installed (runtime/state.py)
```
Only the standard library here: core software imports this through tollgate.runtime.
Every write goes to a temporary file first and is switched in with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tollgate.crypto import bounded_json
from tollgate.files import write_atomic
from tollgate.runtime.state import ClientState

APP = "tollgate"
HOME_ENV = "TOLLGATE_HOME"


def default_home() -> Path:
    """``TOLLGATE_HOME``, else the user's data folder as platformdirs names it, computed with
    the standard library so that core software (which may not carry platformdirs) and the
    download program always agree: ``$XDG_DATA_HOME/tollgate`` (``~/.local/share/tollgate``) on
    Linux and other Unix, ``~/Library/Application Support/tollgate`` on macOS,
    ``%LOCALAPPDATA%\\tollgate`` on Windows."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env)
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / APP
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / APP


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n")


MAX_JSON_FILE = 16 * 1024 * 1024  # an account, a licence: kilobytes


def read_json(path: Path) -> Any:
    """A JSON file of the client's folder: OSError when it cannot be read, ``BadJSON`` (a
    ValueError saying why) when it is not bounded JSON (crypto/bounded_json.py)."""
    with path.open("rb") as f:
        data = f.read(MAX_JSON_FILE + 1)
    try:
        return bounded_json.loads(data, max_size=MAX_JSON_FILE)
    except bounded_json.BadJSON as exc:
        raise bounded_json.BadJSON(f"{path}: {exc}") from exc


class ClientHome:
    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = (Path(root) if root is not None else default_home()).expanduser().resolve()

    @property
    def state(self) -> ClientState:
        return ClientState(self.root / "state.db")

    def store_dir(self, store_id: str) -> Path:
        return self.root / "stores" / store_id

    def account_path(self, store_id: str) -> Path:
        return self.store_dir(store_id) / "account.json"

    def keyfile_path(self, store_id: str) -> Path:
        return self.store_dir(store_id) / "keyfile.json"

    def licence_path(self, store_id: str, licence_id: str) -> Path:
        return self.store_dir(store_id) / "licences" / f"{licence_id}.json"

    def orders_dir(self, store_id: str) -> Path:
        """The store's answers to this machine's orders (order id, amount, licence), each kept
        the moment it arrives: what was paid for, even before its files are all here."""
        return self.store_dir(store_id) / "orders"

    def product_dir(self, store_id: str, product: str, version: str) -> Path:
        return self.root / "products" / store_id / product / version

    def staging_dir(self, store_id: str, product: str, version: str) -> Path:
        return self.root / "products" / store_id / product / f".{version}.staging"

    def addon_vault(self, store_id: str, product: str, addon: str) -> Path:
        """The vault folder of one add-on: a folder per release beneath it."""
        return self.root / "vault" / store_id / product / addon

    def vault_file(
        self, store_id: str, product: str, addon: str, version: str, digest: str
    ) -> Path:
        return self.addon_vault(store_id, product, addon) / version / digest

    def accounts(self) -> list[dict[str, Any]]:
        base = self.root / "stores"
        if not base.is_dir():
            return []
        return [
            read_json(p / "account.json")
            for p in sorted(base.iterdir())
            if (p / "account.json").is_file()
        ]
