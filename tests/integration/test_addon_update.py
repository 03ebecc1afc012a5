"""Bought add-ons follow the product to a new release without a new charge: unchanged files are
kept, changed ones travel as encrypted patches rebuilt in memory; a new revision is a new
purchase and the add-on bought stays on its release and keeps running."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_cli import tg
from test_purchase import purchase, succeeded_charges

from conftest import Customer, LiveStore, release_of_mt
from mitm import ManInTheMiddle
from tollgate.client.addon_update import AddOnUpdate, apply_addon_update, plan_addon_updates
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.errors import ClientError
from tollgate.client.install import install_product, plan_install
from tollgate.client.purchase import place_order
from tollgate.runtime import Product
from tollgate.store.db import AddOn, Order, Patch, ReleasedFile

DICTIONARY = "addons/mt_dic2/dictionary.tsv"
INIT = "addons/mt_dic2/__init__.py"
INFLECTION = "addons/mt_dic2/inflection.py"


def release_with_new_words(where: Path, version: str, *, revision: int = 1) -> Path:
    """MT at ``version`` where only dic2's dictionary gained a line (and, if asked, dic2 is a
    new revision)."""
    src = release_of_mt(where, version, change=False)
    with (src / DICTIONARY).open("a") as fh:
        fh.write(f"update\tアップデート{version}\n")
    if revision != 1:
        manifest = src / "tollgate.toml"
        manifest.write_text(manifest.read_text().replace("revision = 1", f"revision = {revision}"))
    return src


def update_everything(store: LiveStore, customer: Customer, api: StoreAPI) -> list[AddOnUpdate]:
    install_product(customer.home, api, customer.account, "MT")
    listed = plan_install(customer.home, api, customer.account, "MT").listed
    return plan_addon_updates(customer.home, customer.account.store_id, listed)


def dic2_files(customer: Customer) -> dict[str, bytes]:
    return Product.open("MT", home=customer.home.root).read_addon_files("dic2")


def test_bought_addon_follows_the_release_patched_and_free(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    first = purchase(store, customer)
    charges = succeeded_charges(store)
    store.ctx.publish(release_with_new_words(tmp_path / "1.1", "1.1.0"))
    with store.ctx.sessions() as s:  # the unchanged file keeps its ciphertext
        rows = s.scalars(select(ReleasedFile).where(ReleasedFile.path == INIT)).all()
        assert len(rows) == 2 and rows[0].digest == rows[1].digest
        [patch] = s.scalars(select(Patch).join(ReleasedFile).where(ReleasedFile.path == DICTIONARY))
        assert patch.stream_header is not None
    with store.api() as api:
        [update] = update_everything(store, customer, api)
        assert (update.installed, update.available, update.new_revision) == (
            "1.0.0",
            "1.1.0",
            False,
        )
        actions = {c.name: c.action for c in update.changes}
        assert actions == {INIT: "keep", INFLECTION: "keep", DICTIONARY: "patch"}
        keys = customer.account.unlock(customer.home, None)
        done = apply_addon_update(customer.home, api, customer.account, keys, update)
    assert (done.patched_files, done.kept_files, done.patch_fallbacks) == (1, 2, [])
    assert done.fetched_bytes == patch.size < (tmp_path / "1.1" / DICTIONARY).stat().st_size / 10
    assert succeeded_charges(store) == charges  # nothing charged for the update
    with store.ctx.sessions() as s:
        upgrade = s.scalars(select(Order).join(AddOn).where(Order.upgrade_of.is_not(None))).one()
        assert (upgrade.amount, upgrade.upgrade_of, upgrade.charge_id) == (0, first.order_id, None)
    files = dic2_files(customer)
    assert files[DICTIONARY] == (tmp_path / "1.1" / DICTIONARY).read_bytes()
    vault = customer.home.root / "vault" / customer.account.store_id / "MT" / "dic2"
    assert sorted(p.name for p in vault.iterdir()) == ["1.1.0"]  # the old release is gone
    assert not any(b"update\t" in p.read_bytes() for p in (vault / "1.1.0").iterdir())
    history = customer.home.state.history()[0]
    assert history["action"] == "update" and "no charge" in history["detail"]
    with store.api() as api:
        [again] = update_everything(store, customer, api)
    assert again.up_to_date


def test_new_revision_is_a_purchase_and_the_bought_one_keeps_running(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    purchase(store, customer)
    charges = succeeded_charges(store)
    store.ctx.publish(release_with_new_words(tmp_path / "2.0", "2.0.0", revision=2))
    with store.api() as api:
        [update] = update_everything(store, customer, api)
        assert update.new_revision and not update.up_to_date
        keys = customer.account.unlock(customer.home, None)
        with pytest.raises(ClientError, match="new revision"):
            apply_addon_update(customer.home, api, customer.account, keys, update)
    with store.ctx.sessions() as s:
        orders = s.scalars(select(Order)).all()
    assert len(orders) == 1 and succeeded_charges(store) == charges
    assert Product.open("MT", home=customer.home.root).path.name == "2.0.0"
    old = (Path(__file__).resolve().parents[2] / "examples" / "mt" / DICTIONARY).read_bytes()
    assert dic2_files(customer)[DICTIONARY] == old  # still 1.0.0's, still opening


def test_store_refuses_an_upgrade_order_for_a_new_revision(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """An update never buys: with ``upgrade`` the store refuses rather than charge."""
    home = customer.home.root
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    store.ctx.publish(release_with_new_words(tmp_path / "2.0", "2.0.0", revision=2))
    charges = succeeded_charges(store)
    done = tg(home, "update", "MT", "--json")
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)
    [addon] = report["addons"]
    assert addon["new_revision"] and addon["installed"] == "1.0.0"
    keys = customer.account.unlock(customer.home, None)
    signer = Signer(customer.account.customer_id, keys.purchase_key)
    with store.api() as api, pytest.raises(ClientError, match="not bought"):
        place_order(api, customer.account, signer, "MT", "dic2", "2.0.0", upgrade=True)
    assert succeeded_charges(store) == charges


def test_cli_update_brings_the_addon_along(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    home = customer.home.root
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    store.ctx.publish(release_with_new_words(tmp_path / "1.1", "1.1.0"))
    dry = json.loads(tg(home, "update", "--dry-run", "--json").stdout)
    [addon] = next(r for r in dry if r["product"] == "MT")["addons"]
    assert addon["changes"] == [
        {"name": DICTIONARY, "action": "patch", "size": addon["fetch_bytes"]}
    ]
    done = tg(home, "update", "MT")
    assert done.returncode == 0, done.stderr
    assert "no charge" in done.stdout and "Updated add-on dic2 to 1.1.0" in done.stdout
    run = tg(home, "run", "MT", "--", "update")
    assert run.returncode == 0, run.stderr
    assert "アップデート1.1.0" in run.stdout  # the new word, from the updated add-on


@pytest.mark.parametrize("fault", ["held file damaged", "patch altered"])
def test_addon_patch_failure_falls_back_to_the_whole_file(
    store: LiveStore, customer: Customer, tmp_path: Path, fault: str
) -> None:
    purchase(store, customer)
    store.ctx.publish(release_with_new_words(tmp_path / "1.1", "1.1.0"))
    with store.ctx.sessions() as s:
        patch_digest = s.scalars(select(Patch.digest)).one()
    if fault == "held file damaged":
        held = next(
            f
            for f in customer.home.state.files(customer.account.store_id, "MT")
            if f.name == DICTIONARY
        )
        data = bytearray(held.path.read_bytes())
        data[-1] ^= 1
        held.path.write_bytes(bytes(data))

    def corrupt(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if fault == "patch altered" and request.url.path.endswith(patch_digest):
            return httpx.Response(206, headers=dict(real.headers), content=real.content[::-1])
        return None

    with StoreAPI(store.url, transport=ManInTheMiddle(tamper=corrupt)) as api:
        [update] = update_everything(store, customer, api)
        keys = customer.account.unlock(customer.home, None)
        done = apply_addon_update(customer.home, api, customer.account, keys, update)
    assert done.patched_files == 0 and len(done.patch_fallbacks) == 1
    assert dic2_files(customer)[DICTIONARY] == (tmp_path / "1.1" / DICTIONARY).read_bytes()
    assert "whole files instead of patches" in customer.home.state.history()[0]["detail"]


def test_an_update_answered_with_a_charge_is_refused(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """A store (or a man in the middle) that answers an update with an amount is reported, and
    nothing on the machine changes."""
    purchase(store, customer)
    store.ctx.publish(release_with_new_words(tmp_path / "1.1", "1.1.0"))

    def charged(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if request.method == "POST" and request.url.path == "/v1/orders":
            body = json.loads(real.content) | {"amount": 300}
            return httpx.Response(real.status_code, json=body)
        return None

    with StoreAPI(store.url, transport=ManInTheMiddle(tamper=charged)) as api:
        [update] = update_everything(store, customer, api)
        keys = customer.account.unlock(customer.home, None)
        with pytest.raises(ClientError, match="charge of 300"):
            apply_addon_update(customer.home, api, customer.account, keys, update)
    bought = customer.home.state.addons(customer.account.store_id, "MT")["dic2"]
    assert bought.version == "1.0.0"
    old = (Path(__file__).resolve().parents[2] / "examples" / "mt" / DICTIONARY).read_bytes()
    assert dic2_files(customer)[DICTIONARY] == old
