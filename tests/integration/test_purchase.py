"""Register once, buy with one command, run in memory only on the buying machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import MACHINE_B, Customer, LiveStore, copy_home, registered
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.purchase import Purchase, buy
from tollgate.runtime import AddOnIntegrityError, AddOnNotLicensed, Product
from tollgate.store.db import Customer as CustomerRow
from tollgate.store.db import Licence, Order, SandboxCharge


def purchase(
    store: LiveStore,
    who: Customer,
    product: str = "MT",
    addon: str = "dic2",
    password: str | None = None,
    url: str | None = None,
) -> Purchase:
    with StoreAPI(url or store.url) as api:
        keys = who.account.unlock(who.home, password)
        return buy(
            who.home,
            api,
            who.account,
            account_catalog(api, who.home, who.account),
            product,
            addon,
            keys=keys,
        )


def succeeded_charges(store: LiveStore) -> int:
    with store.ctx.sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(SandboxCharge)
                .where(SandboxCharge.status == "succeeded")
            )
            or 0
        )


def test_buy_once_and_open_in_memory(store: LiveStore, customer: Customer) -> None:
    mt = Product.open("MT", home=customer.home.root)
    assert not mt.has("dic2")
    with pytest.raises(AddOnNotLicensed, match="tollgate buy MT dic2"):
        mt.read_addon_files("dic2")
    done = purchase(store, customer)
    assert (done.amount, done.currency, done.files) == (300, "JPY", 3)
    files = Product.open("MT", home=customer.home.root).read_addon_files("dic2")
    assert b"def lookup" in files["addons/mt_dic2/__init__.py"]
    assert "古い".encode() in files["addons/mt_dic2/dictionary.tsv"]
    # At rest the add-on is ciphertext only: no plaintext line appears in the vault.
    vault = list((customer.home.root / "vault").rglob("*"))
    assert all(b"def lookup" not in p.read_bytes() for p in vault if p.is_file())
    # Buying again (a retry) charges nothing more and returns the same licence.
    again = purchase(store, customer)
    assert again.order_id == done.order_id and again.licence_id == done.licence_id
    assert succeeded_charges(store) == 1


def test_copied_folder_opens_nothing_on_another_machine(
    store: LiveStore, customer: Customer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    purchase(store, customer)
    other = copy_home(customer.home, tmp_path / "copied")
    monkeypatch.setenv("TOLLGATE_MACHINE_ID", MACHINE_B)
    with pytest.raises(AddOnIntegrityError, match="another machine"):
        Product.open("MT", home=other.root).read_addon_files("dic2")
    # ... and the copied key cannot buy either.
    with pytest.raises(Exception, match="machine that registered"):
        customer.account.unlock_purchase_key(other, None)


@pytest.mark.parametrize("target", ["vault", "licence"])
def test_flipped_byte_is_refused(store: LiveStore, customer: Customer, target: str) -> None:
    purchase(store, customer)
    root = customer.home.root
    pattern = "vault/**/*" if target == "vault" else "stores/*/licences/*.json"
    victim = max((p for p in root.glob(pattern) if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    if target == "vault":
        data[len(data) // 2] ^= 0x01
    else:
        doc = json.loads(data)
        doc["signed"]["policy"]["kind"] = "forever"
        data = bytearray(json.dumps(doc).encode())
    victim.write_bytes(bytes(data))
    with pytest.raises(AddOnIntegrityError, match="failed its check"):
        Product.open("MT", home=root).read_addon_files("dic2")


def test_licence_of_customer_a_does_not_open_for_customer_b(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    purchase(store, customer)
    other = registered(store, tmp_path / "b")
    lic_dir = customer.home.store_dir(customer.account.store_id) / "licences"
    bought = customer.home.state.addons(customer.account.store_id, "MT")["dic2"]
    with other.home.state.transaction() as conn:  # B's state claims A's licence
        conn.execute(
            "INSERT INTO addons VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                other.account.store_id,
                "MT",
                "dic2",
                bought.version,
                bought.function,
                bought.revision,
                bought.licence_id,
                bought.order_id,
            ),
        )
    dest = other.home.store_dir(other.account.store_id) / "licences"
    dest.mkdir(parents=True, exist_ok=True)
    for lic in lic_dir.iterdir():
        (dest / lic.name).write_bytes(lic.read_bytes())
    with pytest.raises(AddOnIntegrityError, match="another customer"):
        Product.open("MT", home=other.home.root).read_addon_files("dic2")


def test_card_that_fails_at_purchase_charges_and_delivers_nothing(
    store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    poor = registered(store, tmp_path / "poor", number="4000000000009995")
    with pytest.raises(Exception, match="declined") as info:
        purchase(store, poor)
    assert getattr(info.value, "code", None) == "payment_failed"
    assert succeeded_charges(store) == 0
    assert not (poor.home.root / "vault").exists()
    with store.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Licence)) == 0
        assert s.scalar(select(Order.status)) == "failed"


def test_stopped_customer_is_refused(store: LiveStore, customer: Customer) -> None:
    with store.ctx.sessions.begin() as s:
        s.get_one(CustomerRow, customer.account.customer_id).status = "stopped"
    with pytest.raises(Exception, match="no longer sells") as info:
        purchase(store, customer)
    assert getattr(info.value, "code", None) == "customer_stopped"
    assert succeeded_charges(store) == 0


def test_password_protects_purchases(store: LiveStore, tmp_path: Path, machine_a: str) -> None:
    from tollgate.crypto.keyfile import Binding

    who = registered(store, tmp_path / "pw", binding=Binding.MACHINE, password="s3cret pass")
    with pytest.raises(Exception, match="password"):
        purchase(store, who)
    with pytest.raises(Exception) as info:  # a wrong password derives a PK the store refuses
        purchase(store, who, password="wrong")
    assert getattr(info.value, "code", None) == "bad_signature"
    assert purchase(store, who, password="s3cret pass").amount == 300


def test_cli_run_exits_4_on_another_machine(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    purchase(store, customer)
    env = dict(os.environ, TOLLGATE_HOME=str(customer.home.root))
    ok = subprocess.run(
        [sys.executable, "-m", "tollgate", "run", "MT", "--", "old", "river"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "古い 川" in ok.stdout
    other = copy_home(customer.home, tmp_path / "elsewhere")
    env = dict(os.environ, TOLLGATE_HOME=str(other.root), TOLLGATE_MACHINE_ID=MACHINE_B)
    bad = subprocess.run(
        [sys.executable, "-m", "tollgate", "run", "MT"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 4
    assert "another machine" in bad.stderr
