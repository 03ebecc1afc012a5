"""Installing a product's free core: download, verify each file's digest, switch in atomically.

Files are fetched into a staging folder beside the target; only when every digest matches is
the folder renamed into place and the state updated, so a broken install leaves the previous
version as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from tollgate.client.account import Account
from tollgate.client.api import Progress, StoreAPI
from tollgate.client.catalog import Catalog
from tollgate.client.errors import IntegrityFailure
from tollgate.runtime.home import ClientHome


def product_key(store_id: str, name: str) -> str:
    return f"{store_id}/{name}"


def safe_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise IntegrityFailure(f"the store named an unsafe install path {path!r}")
    return rel


def install_core(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    catalog: Catalog,
    name: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    product = catalog.product(name)
    version = str(product["version"])
    target = home.product_dir(account.store_id, name, version)
    state = home.load_state()
    key = product_key(account.store_id, name)
    current = state["products"].get(key)
    if not (current and current["version"] == version and target.is_dir()):
        staging = target.with_name(f".{version}.staging")
        staging.mkdir(parents=True, exist_ok=True)
        for f in product["core"]:
            dest = staging / Path(*safe_relative(f["path"]).parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                api.download(f["digest"], dest, size=int(f["size"]), progress=progress)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    entry = {
        "store_id": account.store_id,
        "name": name,
        "version": version,
        "path": str(target),
        "entry": product["entry"],
        "installed_at": dt.datetime.now(dt.UTC).isoformat(),
        "addons": current.get("addons", {}) if current else {},
    }
    state["products"][key] = entry
    home.save_state(state)
    return entry
