"""A damaged client state database: a clear error everywhere, and a way back by installing and
buying again, with nothing charged twice."""

from __future__ import annotations

import pytest
from test_cli import tg
from test_purchase import purchase, succeeded_charges

from conftest import Customer, LiveStore
from tollgate.runtime import ClientStateDamaged, Product


def test_a_damaged_state_says_so_and_a_reinstall_loses_no_purchase(
    store: LiveStore, customer: Customer
) -> None:
    purchase(store, customer)
    charges = succeeded_charges(store)
    state = customer.home.state.path
    state.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ClientStateDamaged, match="cannot be read"):
        Product.open("MT", home=customer.home.root)
    listing = tg(customer.home.root, "list")
    assert listing.returncode == 4
    assert "tollgate install" in " ".join(listing.stderr.split())
    # The way back the message gives: move it aside, install and buy again.
    state.rename(state.with_name("state.db.damaged"))
    assert tg(customer.home.root, "install", "MT").returncode == 0
    bought = tg(customer.home.root, "buy", "MT", "dic2", "--yes")
    assert bought.returncode == 0, bought.stderr
    assert succeeded_charges(store) == charges  # the store remembered the purchase
    run = tg(customer.home.root, "run", "MT", "--", "river")
    assert "MT with dic2" in run.stdout, run.stderr
