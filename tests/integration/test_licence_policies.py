"""Licence policies end to end: the vendor's rules in tollgate.toml, resolved and signed by the
store, enforced by the runtime against a clock passed in; leases renewed by `tollgate sync`,
which is also how a refund or a stop reaches a machine."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from test_cli import tg
from test_licence_attacks import edit_state, sealed_meter
from test_purchase import purchase, succeeded_charges

from conftest import Customer, LiveStore, registered, serving, write_tree
from mitm import ManInTheMiddle, answer
from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure
from tollgate.client.sync import sync_store
from tollgate.runtime import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    ClockMovedBack,
    LeaseExpired,
    LicenceExpired,
    OSReleaseChanged,
    OutsideAllowedHours,
    Product,
)
from tollgate.store.db import Order, SandboxCharge
from tollgate.store.services import admin
from tollgate.store.services.errors import StoreError

MANIFEST = """
[product]
name = "Timed"
version = "1.0.0"

[core]
files = ["timed/*.py"]
entry = "timed.main:main"
"""
ADDONS = {
    "night": 'policy = { hours = "20-8" }',
    "trial": "policy = { days = 3 }",
    "osbound": "policy = { os_release = true }",
    "forever": "",
}


def timed_product(where: Path) -> Path:
    files = {"timed/main.py": "def main(argv):\n    return 0\n", "tollgate.toml": MANIFEST}
    for name, policy in ADDONS.items():
        files[f"addons/{name}/timed_{name}/__init__.py"] = f"NAME = {name!r}\n"
        files["tollgate.toml"] += (
            f'\n[[addon]]\nname = "{name}"\nrevision = 1\nprice = 200\ncurrency = "JPY"\n'
            f'files = ["addons/{name}/**"]\n{policy}\n'
        )
    return write_tree(where, files)


@pytest.fixture
def timed_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    with serving(tmp_path / "store", database_url, [timed_product(tmp_path / "src")]) as live:
        yield live


@pytest.fixture
def buyer(timed_store: LiveStore, tmp_path: Path, machine_a: str) -> Customer:
    who = registered(timed_store, tmp_path / "home", products=("Timed",))
    for name in ADDONS:
        purchase(timed_store, who, "Timed", name)
    return who


def at(days: float = 0, hour: int | None = None) -> dt.datetime:
    """A local time ``days`` from now, optionally at a given hour (the runtime's clock)."""
    when = dt.datetime.now().astimezone() + dt.timedelta(days=days)
    return when if hour is None else when.replace(hour=hour, minute=30)


def opened(who: Customer, when: dt.datetime) -> Product:
    return Product.open("Timed", home=who.home.root, clock=lambda: when)


def test_hours_days_and_perpetual(buyer: Customer) -> None:
    tomorrow_noon, tomorrow_night = at(1, hour=12), at(1, hour=22)
    assert not opened(buyer, tomorrow_noon).has("night")
    with pytest.raises(OutsideAllowedHours, match="from 20:00 to 08:00"):
        opened(buyer, tomorrow_noon).import_module("night")
    assert opened(buyer, tomorrow_night).import_module("night").NAME == "night"
    assert opened(buyer, at(2)).has("trial")
    with pytest.raises(LicenceExpired, match="expired on"):
        opened(buyer, at(3.1)).check("trial")
    assert opened(buyer, at(10)).has("forever")


def test_os_release_bound_addon_needs_a_new_purchase_on_a_new_release(
    timed_store: LiveStore, buyer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert opened(buyer, at()).has("osbound")
    monkeypatch.setenv("TOLLGATE_OS_RELEASE", "testos 2")
    with pytest.raises(OSReleaseChanged, match="bought for testos 1; this machine runs testos 2"):
        opened(buyer, at()).check("osbound")
    assert opened(buyer, at()).has("forever")  # other add-ons are not bound
    charges = succeeded_charges(timed_store)
    purchase(timed_store, buyer, "Timed", "osbound")  # a new order for the new release
    assert succeeded_charges(timed_store) == charges + 1
    assert opened(buyer, at()).import_module("osbound").NAME == "osbound"
    purchase(timed_store, buyer, "Timed", "osbound")  # and only one per release
    assert succeeded_charges(timed_store) == charges + 1


def test_the_store_refuses_an_os_bound_order_that_names_no_release(
    timed_store: LiveStore, buyer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_OS_RELEASE", " ")
    with pytest.raises(Exception, match="sold per OS release"):
        purchase(timed_store, buyer, "Timed", "osbound")


def test_a_clock_moved_back_is_refused_and_the_mark_is_sealed(buyer: Customer) -> None:
    assert opened(buyer, at(2)).has("forever")  # the machine has now seen "in two days"
    with pytest.raises(ClockMovedBack, match="behind a time it has already seen"):
        opened(buyer, at(1)).check("forever")
    assert not opened(buyer, at(1)).has("forever")
    assert opened(buyer, at(2)).has("forever")
    doc = json.loads(sealed_meter(buyer))
    assert "mark" not in sealed_meter(buyer) and set(doc) == {"format", "nonce", "sealed"}
    doc["sealed"] = doc["sealed"][:-4] + ("AAAA" if doc["sealed"][-4:] != "AAAA" else "BBBB")
    edit_state(buyer, "UPDATE meter SET sealed = ?", json.dumps(doc))
    with pytest.raises(ClockMovedBack, match="damaged"):
        opened(buyer, at(2)).check("forever")
    # Going online restores the mark from the store's time.
    assert tg(buyer.home.root, "sync").returncode == 0
    assert opened(buyer, at(2)).has("forever")


def test_a_deleted_mark_falls_back_to_the_store_time_of_the_licence(buyer: Customer) -> None:
    assert opened(buyer, at()).has("forever")
    edit_state(buyer, "DELETE FROM meter")
    with pytest.raises(ClockMovedBack):
        opened(buyer, at(-1)).check("forever")


def test_past_renew_by_the_runtime_says_go_online_and_sync_renews(buyer: Customer) -> None:
    store_id = buyer.account.store_id
    path = buyer.home.licence_path(
        store_id, buyer.home.state.addons(store_id, "Timed")["forever"].licence_id
    )
    old_renew_by = dt.datetime.fromisoformat(json.loads(path.read_text())["signed"]["renew_by"])
    just_after = old_renew_by + dt.timedelta(milliseconds=500)
    with pytest.raises(LeaseExpired, match="tollgate sync"):
        opened(buyer, just_after).check("forever")
    time.sleep(1.1)  # the renewal's lease then runs past ``just_after``
    done = tg(buyer.home.root, "sync", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["stores"][0]
    assert sorted(report["renewed"]) == [f"Timed {n}" for n in sorted(ADDONS)]
    renewed = json.loads(path.read_text())["signed"]
    assert dt.datetime.fromisoformat(renewed["renew_by"]) > just_after
    assert opened(buyer, just_after).has("forever")
    # The renewal keeps the rules: the trial still ends three days after the purchase.
    with pytest.raises(LicenceExpired):
        opened(buyer, just_after).check("trial")


def test_a_refund_takes_effect_at_the_next_renewal(timed_store: LiveStore, buyer: Customer) -> None:
    order_id = buyer.home.state.addons(buyer.account.store_id, "Timed")["forever"].order_id
    result = admin.refund_order(
        timed_store.ctx.sessions, timed_store.ctx.gateway, order_id, timed_store.ctx.clock()
    )
    assert result["refunded"] == 200
    again = admin.refund_order(
        timed_store.ctx.sessions, timed_store.ctx.gateway, order_id, timed_store.ctx.clock()
    )
    assert again == {**result, "already_refunded": True}  # twice changes nothing, says so
    with timed_store.ctx.sessions() as s:
        refunds = s.scalars(select(SandboxCharge.status).where(SandboxCharge.reference == order_id))
        assert list(refunds) == ["refunded"]
    with pytest.raises(StoreError, match="no paid order"):
        admin.refund_order(
            timed_store.ctx.sessions, timed_store.ctx.gateway, "ord_nope", timed_store.ctx.clock()
        )
    assert opened(buyer, at()).has("forever")  # still leased until the next renewal
    with StoreAPI(timed_store.url) as api:
        keys = buyer.account.unlock(buyer.home, None)
        report = sync_store(buyer.home, api, buyer.account, keys)
    assert report.revoked == [{"order_id": order_id, "reason": "refunded"}]
    with pytest.raises(AddOnNotLicensed, match="tollgate buy Timed forever"):
        opened(buyer, at()).check("forever")
    vault = buyer.home.root / "vault" / buyer.account.store_id / "Timed" / "forever"
    assert not vault.exists()
    assert opened(buyer, at()).has("trial")  # the other purchases stand
    assert buyer.home.state.history(1)[0]["action"] == "revoke"
    with timed_store.ctx.sessions() as s:
        assert s.scalars(select(Order.status).where(Order.id == order_id)).one() == "refunded"
    with pytest.raises(Exception, match="refunded"):
        purchase(timed_store, buyer, "Timed", "forever")


def test_stop_selling_removes_every_addon_at_the_next_sync(
    timed_store: LiveStore, buyer: Customer
) -> None:
    with timed_store.ctx.sessions.begin() as s:
        admin.stop_selling(s, buyer.account.customer_id)
    done = tg(buyer.home.root, "sync", "--json")
    assert done.returncode == 0, done.stderr
    assert {g["reason"] for g in json.loads(done.stdout)["stores"][0]["revoked"]} == {"stopped"}
    assert buyer.home.state.addons(buyer.account.store_id, "Timed") == {}


def test_a_licence_swapped_for_another_addons_is_refused(buyer: Customer) -> None:
    bought = buyer.home.state.addons(buyer.account.store_id, "Timed")
    store_id = buyer.account.store_id
    night = buyer.home.licence_path(store_id, bought["night"].licence_id)
    forever = buyer.home.licence_path(store_id, bought["forever"].licence_id)
    night.write_bytes(forever.read_bytes())  # a perpetual licence in place of the night one
    with pytest.raises(AddOnIntegrityError, match="licence of Timed forever"):
        opened(buyer, at(1, hour=12)).check("night")


def test_a_licence_for_another_customer_is_refused(
    timed_store: LiveStore, buyer: Customer, tmp_path: Path
) -> None:
    other = registered(timed_store, tmp_path / "other", products=("Timed",))
    purchase(timed_store, other, "Timed", "forever")
    theirs = other.home.state.addons(other.account.store_id, "Timed")["forever"]
    mine = buyer.home.state.addons(buyer.account.store_id, "Timed")["forever"]
    buyer.home.licence_path(buyer.account.store_id, mine.licence_id).write_bytes(
        other.home.licence_path(other.account.store_id, theirs.licence_id).read_bytes()
    )
    with pytest.raises(AddOnIntegrityError, match="another customer"):
        opened(buyer, at()).check("forever")


def test_a_half_used_lease_starts_a_background_sync(
    buyer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_BACKGROUND", "1")
    monkeypatch.setenv("TOLLGATE_HOME", str(buyer.home.root))
    store_id = buyer.account.store_id
    licence = buyer.home.licence_path(
        store_id, buyer.home.state.addons(store_id, "Timed")["forever"].licence_id
    )
    before = json.loads(licence.read_text())["signed"]["counter"]
    assert opened(buyer, at(8)).has("forever")  # more than half of 14 days: sync in background
    deadline = time.monotonic() + 60
    while json.loads(licence.read_text())["signed"]["counter"] == before:
        assert time.monotonic() < deadline, "the background sync did not renew the lease"
        time.sleep(0.2)
    renewed = json.loads(licence.read_text())["signed"]
    assert dt.datetime.fromisoformat(renewed["issued_at"]) > dt.datetime.fromisoformat(
        json.loads(licence.read_text())["signed"]["issued_at"]
    ) - dt.timedelta(seconds=1)
    assert renewed["counter"] > before


@pytest.mark.parametrize(
    "forged",
    [
        {"licences": [], "revoked": "all", "store_time": "2026-11-24T00:00:00+00:00"},
        {"licences": [], "revoked": [{"reason": "refunded"}], "store_time": "now"},
        {"licences": [{"signed": {}, "signatures": []}], "revoked": []},
    ],
    ids=["revoked not a list", "revoked without order", "no store time"],
)
def test_a_malformed_renewal_answer_changes_nothing(
    timed_store: LiveStore, buyer: Customer, forged: dict[str, object]
) -> None:
    store_id = buyer.account.store_id
    before = {p.name: p.read_bytes() for p in buyer.home.store_dir(store_id).rglob("*.json")}
    history = buyer.home.state.history()
    mitm = ManInTheMiddle(rewrite=answer("/v1/licences/renew", json.dumps(forged).encode()))
    with StoreAPI(timed_store.url, transport=mitm) as api, pytest.raises(IntegrityFailure):
        sync_store(buyer.home, api, buyer.account, buyer.account.unlock(buyer.home, None))
    after = {p.name: p.read_bytes() for p in buyer.home.store_dir(store_id).rglob("*.json")}
    assert after == before and buyer.home.state.history() == history
    assert set(buyer.home.state.addons(store_id, "Timed")) == set(ADDONS)
