"""The production server (`tollgate store serve`, granian): whole files go out through the ASGI
`pathsend` path, resumed ones through Range, and the process stops cleanly on SIGTERM."""

from __future__ import annotations

import httpx
from test_purchase import purchase, succeeded_charges

from conftest import Customer, LiveStore
from store_process import served
from tollgate.runtime import Product


def test_served_store_delivers_whole_and_resumed_files(
    store: LiveStore, customer: Customer
) -> None:
    with served(store.folder.path) as url:
        purchase(store, customer, url=url)
        assert Product.open("MT", home=customer.home.root).has("dic2")

        vault = [p for p in (customer.home.root / "vault").rglob("*") if p.is_file()]
        big = max(vault, key=lambda p: p.stat().st_size)
        data = big.read_bytes()
        big.unlink()
        big.with_name(big.name + ".part").write_bytes(data[: len(data) // 3])
        purchase(store, customer, url=url)

    assert big.read_bytes() == data
    assert succeeded_charges(store) == 1


def test_served_store_answers_problems_and_keeps_serving(store: LiveStore) -> None:
    with served(store.folder.path) as url:
        missing = httpx.get(f"{url}/v1/files/{'0' * 64}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["code"] == "not_found"
        oversized = httpx.post(f"{url}/v1/orders", content=b"x" * (1 << 20))
        assert oversized.status_code == 413
        assert oversized.json()["code"] == "payload_too_large"
        assert httpx.get(f"{url}/v1/store").status_code == 200
