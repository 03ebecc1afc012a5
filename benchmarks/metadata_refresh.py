"""Metadata refresh with 1, 100 and 1000 products in the store: the client's time and bytes to
refresh TUF and check one product's install list after the vendor published a new version of
that one product (goal: grows no faster than the number of products that changed).

Baseline, measured in the same run: the same refresh and check with nothing published since the
last one (timestamp only).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx
from common import bench_customer

from tollgate.client.account import Account
from tollgate.client.api import StoreAPI
from tollgate.client.install import install_product, plan_install
from tollgate.runtime.home import ClientHome
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import serve_in_thread


class Counting(httpx.HTTPTransport):
    """Counts the body bytes the client receives, as they travel (compressed or not)."""

    def __init__(self) -> None:
        super().__init__()
        self.received = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        self.received += response.num_bytes_downloaded
        return response


def tiny_product(where: Path, name: str, version: str) -> Path:
    where.mkdir(parents=True)
    (where / "app.py").write_text(f"NAME = {name!r}\nVERSION = {version!r}\n")
    (where / "tollgate.toml").write_text(
        f'[product]\nname = "{name}"\nversion = "{version}"\n'
        '[core]\nfiles = ["app.py"]\nentry = "app:main"\n'
    )
    return where


def measure(url: str, home: ClientHome, account: Account) -> tuple[int, float]:
    counting = Counting()
    with StoreAPI(url, transport=counting) as api:
        t = time.perf_counter()
        plan_install(home, api, account, "P0000")
        return counting.received, time.perf_counter() - t


def run(products: int, base: Path) -> None:
    ctx = open_store(StoreFolder.create(base / "store", name="bench"))
    t = time.perf_counter()
    for i in range(products):
        ctx.publish(tiny_product(base / f"p{i}", f"P{i:04d}", "1.0"))
    setup = time.perf_counter() - t
    server = serve_in_thread(ctx)
    try:
        home = ClientHome(base / "customer")
        account, _ = bench_customer(server.url, home)
        with StoreAPI(server.url) as api:
            install_product(home, api, account, "P0000")
        idle_bytes, idle_time = measure(server.url, home, account)
        t = time.perf_counter()
        ctx.publish(tiny_product(base / "p0-1.1", "P0000", "1.1"))
        publish_one = time.perf_counter() - t
        changed_bytes, changed_time = measure(server.url, home, account)
        print(
            f"{products:>5} products (published in {setup:.1f} s; one more release "
            f"{publish_one * 1000:.0f} ms): nothing changed {idle_bytes:,} B in "
            f"{idle_time * 1000:.0f} ms; one product changed {changed_bytes:,} B in "
            f"{changed_time * 1000:.0f} ms; ratio to nothing changed "
            f"{changed_bytes / idle_bytes:.1f}x bytes, {changed_time / idle_time:.1f}x time"
        )
    finally:
        server.stop()
        ctx.close()


def main() -> None:
    os.environ.setdefault("TOLLGATE_MACHINE_ID", "benchmark-machine-0001")
    for products in (1, 100, 1000):
        with tempfile.TemporaryDirectory() as tmp:
            run(products, Path(tmp))


if __name__ == "__main__":
    main()
