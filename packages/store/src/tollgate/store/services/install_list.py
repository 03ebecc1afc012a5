"""The install list for one product and one environment (wire/install_list.py).

Built from the product's current release: its notes as the notice, its requirements, then one
install command per file that belongs on the machine (core files first, then add-on files, which
a client installs only with a licence). A release with no core file for the environment is
refused with the environments it does support, so nothing half-runs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.protocol.environment import Environment
from tollgate.store.db import Product
from tollgate.store.services.catalog import (
    install_entry,
    latest_release,
    patch_entry,
    patch_target_of,
    target_of,
)
from tollgate.store.services.client_releases import latest_client
from tollgate.store.services.errors import StoreError
from tollgate.wire import install_list
from tollgate.wire.handoff import HandOff
from tollgate.wire.targets import release_target
from tollgate.wire.text import did_you_mean


def build_install_list(
    session: Session,
    *,
    product: str,
    environment: Environment,
    store_id: str,
    store_url: str,
    handoff: HandOff | None = None,
) -> dict[str, Any]:
    row = session.scalars(select(Product).where(Product.name == product)).one_or_none()
    release = None if row is None else latest_release(row)
    if release is None:
        names = session.scalars(select(Product.name)).all()
        raise StoreError(
            "not_found", f"the store has no product {product!r}{did_you_mean(product, names)}"
        )
    addons = {a.name: a for a in release.addons}
    files = sorted(release.files, key=lambda f: (f.addon_name is not None, f.addon_name, f.path))
    chosen = [f for f in files if environment.selects(f.environment)]
    if not any(f.addon_name is None for f in chosen):
        supported = sorted({t for f in files for t in f.environment})
        raise StoreError(
            "environment_unsupported",
            f"{product} {release.version} has no files for {environment.os} "
            f"{environment.machine}, {environment.implementation} {environment.python}; it is "
            f"published for: {', '.join(supported) or 'no environment'}",
        )
    installs = [
        install_list.Install(
            target_of(f),
            install_entry(f, None if f.addon_name is None else addons[f.addon_name]),
            tuple(install_list.Offer(patch_target_of(p), patch_entry(p)) for p in f.patches),
        )
        for f in chosen
    ]
    client = latest_client(session)
    return install_list.build(
        store_id=store_id,
        store_url=store_url,
        product=product,
        version=release.version,
        release=release_target(product, release.version),
        client_version=None if client is None else client.version,
        environment=environment.to_json(),
        notes=release.notes,
        requires=list(release.requires),
        installs=installs,
        handoff=handoff,
    )
