"""One client folder registered with two stores: each account, licence and installed product
stays with its own store, and nothing guesses which store the customer meant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import tg
from test_purchase import purchase

from conftest import MT, Customer, LiveStore, registered, start_store
from tollgate.client.account import accounts, find_account
from tollgate.client.errors import UsageError
from tollgate.runtime import Product, ProductAmbiguous


@pytest.fixture
def second_store(tmp_path: Path) -> Iterator[LiveStore]:
    live = start_store(tmp_path / "second", f"sqlite:///{tmp_path / 'second.db'}", [MT])
    yield live
    live.server.stop()
    live.ctx.close()


def test_one_folder_two_stores(
    store: LiveStore, second_store: LiveStore, customer: Customer
) -> None:
    home = customer.home
    other = registered(second_store, home.root, products=("MT",))
    assert {a.store_id for a in accounts(home)} == {store.ctx.store_id, second_store.ctx.store_id}
    assert other.account.customer_id != customer.account.customer_id
    with pytest.raises(UsageError, match="several stores"):
        find_account(home, None)
    assert find_account(home, second_store.url).store_id == second_store.ctx.store_id

    purchase(store, customer)  # dic2 from the first store only

    with pytest.raises(ProductAmbiguous, match="several stores"):
        Product.open("MT", home=home.root)
    first = Product.open("MT", home=home.root, store_id=store.ctx.store_id)
    second = Product.open("MT", home=home.root, store_id=second_store.ctx.store_id)
    assert first.has("dic2") and not second.has("dic2")

    ambiguous = tg(home.root, "run", "MT", "--", "the", "old", "river")
    assert ambiguous.returncode == 2 and "several stores" in ambiguous.stderr
    basic = tg(home.root, "run", "MT", "--store", second_store.url)
    assert basic.returncode == 0 and "MT basic" in basic.stdout, basic.stderr
    full = tg(home.root, "run", "MT", "--store", store.url)
    assert full.returncode == 0 and "MT with dic2" in full.stdout, full.stderr
