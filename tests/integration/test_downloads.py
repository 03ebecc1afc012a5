"""Downloads in signed parts (DESIGN.md sections 5 and 7): every part checked on arrival,
endless data cut off, a broken line retried and resumed, a dead store resumed by the next run
transferring only the rest, a full disk reported and nothing installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Customer, LiveStore, registered, serving, start_store
from mitm import ManInTheMiddle, Tamper, streamed
from store_process import start
from tollgate.client.api import StoreAPI
from tollgate.client.download import DiskFull
from tollgate.client.errors import IntegrityFailure, Unreachable
from tollgate.client.install import apply_plan, install_product, plan_install

PART = 64 * 1024
SIZE = 20 * PART + 1234  # 21 parts, the last one short
BIG_MANIFEST = """
[product]
name = "Big"
version = "1.0.0"

[core]
files = ["big/**"]
entry = "big.app:main"
"""


def big_product(where: Path, size: int) -> Path:
    (where / "big").mkdir(parents=True)
    (where / "big" / "app.py").write_text("def main(argv):\n    return 0\n")
    (where / "big" / "data.bin").write_bytes(os.urandom(size))
    (where / "tollgate.toml").write_text(BIG_MANIFEST)
    return where


@pytest.fixture
def big_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    src = big_product(tmp_path / "big-src", SIZE)
    with serving(tmp_path / "store", database_url, [src], part_size=PART) as live:
        yield live


@pytest.fixture
def buyer(big_store: LiveStore, tmp_path: Path, machine_a: str) -> Customer:
    return registered(big_store, tmp_path / "home", products=())


def partial(customer: Customer) -> Path:
    staging = customer.home.staging_dir(customer.account.store_id, "Big", "1.0.0")
    return staging / "big" / "data.bin.part"


def through(store: LiveStore, tamper: Tamper) -> StoreAPI:
    return StoreAPI(store.url, transport=ManInTheMiddle(tamper=tamper))


def big_file_request(request: httpx.Request, real: httpx.Response) -> bool:
    return request.url.path.startswith("/v1/files/") and len(real.content) > PART


def test_large_file_is_signed_in_parts(big_store: LiveStore, buyer: Customer) -> None:
    with big_store.api() as api:
        plan = plan_install(buyer.home, api, buyer.account, "Big")
        data = next(f for f in plan.listed.open_files if f.name == "big/data.bin")
        assert len(data.parts) == 21 and data.parts[-1].length == 1234
        assert data.entry["size"] == SIZE
        done = apply_plan(buyer.home, api, plan)
    assert done.fetched_bytes == SIZE + len("def main(argv):\n    return 0\n")


def test_endless_data_is_cut_off(big_store: LiveStore, buyer: Customer) -> None:
    def endless(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if not big_file_request(request, real):
            return None
        return streamed(real, iter([real.content, b"\0" * (1 << 20), b"\0" * (1 << 20)]))

    with through(big_store, endless) as api, pytest.raises(IntegrityFailure, match="more than"):
        install_product(buyer.home, api, buyer.account, "Big")
    assert partial(buyer).stat().st_size == SIZE  # nothing past the signed length was written
    assert buyer.home.state.products() == []


def test_part_with_wrong_hash_is_refused_and_refetched(
    big_store: LiveStore, buyer: Customer
) -> None:
    flip_at = 5 * PART + 100

    def corrupt(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if not big_file_request(request, real):
            return None
        body = bytearray(real.content)
        body[flip_at] ^= 1
        return streamed(real, iter([bytes(body)]))

    with through(big_store, corrupt) as api, pytest.raises(IntegrityFailure, match="part 6 of 21"):
        install_product(buyer.home, api, buyer.account, "Big")
    assert partial(buyer).stat().st_size == 5 * PART  # the five good parts are kept
    assert buyer.home.state.products() == []
    with big_store.api() as api:
        done = install_product(buyer.home, api, buyer.account, "Big")
    assert done.fetched_bytes == SIZE - 5 * PART


def test_broken_line_is_retried_from_where_it_stopped(
    big_store: LiveStore, buyer: Customer
) -> None:
    breaks = iter([3 * PART + 7, 9 * PART])  # the line drops twice, then holds

    def flaky(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if not big_file_request(request, real):
            return None
        cut = next(breaks, None)
        if cut is None:
            return None

        def body() -> Iterator[bytes]:
            yield real.content[:cut]
            raise httpx.ReadError("connection reset by peer")

        return streamed(real, body())

    with through(big_store, flaky) as api:
        done = install_product(buyer.home, api, buyer.account, "Big")
    assert done.fetched_bytes == SIZE + len("def main(argv):\n    return 0\n")  # no byte twice


def test_dead_store_is_resumed_by_the_next_run(
    tmp_path: Path, database_url: str, machine_a: str
) -> None:
    """The store process is killed mid-part; the customer's next run, against the restarted
    store, transfers only the rest. (48 MiB, so that more is left than loopback buffers.)"""
    size = 48 << 20
    src = big_product(tmp_path / "big-src", size)
    live = start_store(tmp_path / "store", database_url, [src], part_size=1 << 20)
    buyer = registered(live, tmp_path / "home", products=())
    live.server.stop()  # from here on the store runs as its own process, to be killed
    proc, url = start(live.folder.path)

    def kill_midway(done: int, total: int) -> None:
        if done >= size // 4 and proc.poll() is None:
            proc.kill()
            proc.wait()

    try:
        with StoreAPI(url) as api, pytest.raises(Unreachable, match="run the command again"):
            plan = plan_install(buyer.home, api, buyer.account, "Big")
            apply_plan(buyer.home, api, plan, kill_midway)
    finally:
        proc.kill()
        proc.communicate()
    kept = partial(buyer).stat().st_size
    assert size // 4 <= kept < size
    assert buyer.home.state.products() == []
    proc, url = start(live.folder.path)
    try:
        with StoreAPI(url) as api:
            done = install_product(buyer.home, api, buyer.account, "Big")
    finally:
        proc.terminate()
        proc.communicate()
        live.ctx.close()
    assert done.fetched_bytes == size - kept  # the small app.py came in the first run


def test_full_disk_is_reported_and_installs_nothing(big_store: LiveStore, buyer: Customer) -> None:
    """The partial file is /dev/full: every write fails with ENOSPC, as on a full disk."""
    if not Path("/dev/full").exists():
        pytest.skip("this system has no /dev/full")
    partial(buyer).parent.mkdir(parents=True)
    partial(buyer).symlink_to("/dev/full")
    with big_store.api() as api, pytest.raises(DiskFull, match="no space left on"):
        install_product(buyer.home, api, buyer.account, "Big")
    assert buyer.home.state.products() == []
    assert not buyer.home.product_dir(buyer.account.store_id, "Big", "1.0.0").exists()
