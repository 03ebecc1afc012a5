"""Shared by the benchmarks: a product with one paid add-on, a registered customer."""

from __future__ import annotations

import os
from pathlib import Path

from tollgate.client.account import Account, Unlocked
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.install import install_product
from tollgate.client.purchase import buy
from tollgate.client.registration import Registration, register
from tollgate.crypto.keyfile import Binding
from tollgate.runtime.home import ClientHome


def product_with(where: Path, name: str, addon: str, files: dict[str, bytes]) -> Path:
    """A product whose free core does nothing and whose one paid add-on, ``addon``, holds
    ``files`` (paths relative to ``addons/<addon>/``)."""
    for rel, data in files.items():
        path = where / "addons" / addon / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (where / "core.py").write_text("def main(a):\n    return 0\n")
    (where / "tollgate.toml").write_text(
        f'[product]\nname = "{name}"\nversion = "1.0"\n[core]\nfiles = ["core.py"]\n'
        f'entry = "core:main"\n[[addon]]\nname = "{addon}"\nrevision = 1\nprice = 100\n'
        f'files = ["addons/{addon}/**"]\n'
    )
    return where


def product(where: Path, name: str, size: int) -> Path:
    """A product whose add-on ``data`` is ``size`` random bytes (written 16 MiB at a time)."""
    pkg = where / "addons" / "data"
    pkg.mkdir(parents=True)
    with (pkg / "payload.bin").open("wb") as fh:
        for _ in range(0, size, 1 << 24):
            fh.write(os.urandom(min(1 << 24, size)))
    return product_with(where, name, "data", {})


def bench_customer(
    url: str, home: ClientHome, binding: Binding = Binding.MACHINE, password: str | None = None
) -> tuple[Account, Unlocked]:
    """Register a customer with the test card; return the account and its opened keys."""
    with StoreAPI(url) as api:
        account = register(
            home,
            api,
            Registration("Bench", "b@example.com", "US", "4242424242424242", 12, 2034, "123"),
            binding=binding,
            password=password,
        ).account
    return account, account.unlock(home, password)


def buy_addon(url: str, home: ClientHome, account: Account, keys: Unlocked, product: str) -> None:
    """Install ``product`` and buy its add-on ``data`` (or the only one it has)."""
    with StoreAPI(url) as api:
        install_product(home, api, account, product)
        catalog = account_catalog(api, home, account)
        [addon] = catalog.product(product)["addons"]
        buy(home, api, account, catalog, product, addon["name"], keys=keys)
