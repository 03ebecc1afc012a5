"""Licence rules survive an edited or restored client folder (issue 15, finding 2).

The attacker is the machine's owner with a SQLite browser and a file manager: they move the
clock, delete rows of uses, copy back an older client state, remove the meter. Each is refused
by the runtime, or caught by the store at the next `tollgate sync` (renewal held, with the
reason, until the vendor clears it), and the most a folder rolled back offline can win is the
licence's offline allowance.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from test_cli import tg
from test_purchase import purchase

from conftest import Customer, LiveStore, registered, serving, write_tree
from tollgate.runtime import (
    ClockMovedBack,
    LicenceExpired,
    MeterMissing,
    OfflineUsesExhausted,
    Product,
    UsesExhausted,
)
from tollgate.store.db import Customer as CustomerRow
from tollgate.store.db import UsageEvent
from tollgate.store.payments import CardDetails

OFFLINE = 3
MANIFEST = f"""
[product]
name = "Gauge"
version = "1.0.0"

[core]
files = ["gauge/*.py"]
entry = "gauge.main:main"

[[addon]]
name = "print"
revision = 1
price = 0
currency = "JPY"
files = ["addons/print/**"]
policy = {{ per_use = 20, offline_uses = {OFFLINE} }}

[[addon]]
name = "two"
revision = 1
price = 100
currency = "JPY"
files = ["addons/two/**"]
policy = {{ uses = 2 }}

[[addon]]
name = "trial"
revision = 1
price = 100
currency = "JPY"
files = ["addons/trial/**"]
policy = {{ days = 3 }}
"""
DECLINING_CARD = "4000000000009995"  # passes the card check; every charge fails


@pytest.fixture
def gauge_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    files = {"gauge/main.py": "def main(argv):\n    return 0\n", "tollgate.toml": MANIFEST}
    for name in ("print", "two", "trial"):
        files[f"addons/{name}/gauge_{name}/__init__.py"] = f"NAME = {name!r}\n"
    source = write_tree(tmp_path / "src", files)
    with serving(tmp_path / "store", database_url, [source]) as live:
        yield live


def buyer_with(
    store: LiveStore,
    home: Path,
    card: str = "4242424242424242",
    addons: tuple[str, ...] = ("print", "two", "trial"),
) -> Customer:
    who = registered(store, home, card, products=("Gauge",))
    for addon in addons:
        purchase(store, who, "Gauge", addon)
    return who


@pytest.fixture
def buyer(gauge_store: LiveStore, tmp_path: Path, machine_a: str) -> Customer:
    return buyer_with(gauge_store, tmp_path / "home")


def gauge(who: Customer, when: dt.datetime | None = None) -> Product:
    return Product.open("Gauge", home=who.home.root, clock=None if when is None else lambda: when)


def at(days: float) -> dt.datetime:
    return dt.datetime.now().astimezone() + dt.timedelta(days=days)


def edit_state(who: Customer, sql: str, *params: object) -> None:
    """What the owner does with a SQLite browser to ``HOME/state.db``."""
    with sqlite3.connect(who.home.state.path) as conn:
        conn.execute(sql, params)


def sealed_meter(who: Customer) -> str:
    with sqlite3.connect(who.home.state.path) as conn:
        return str(conn.execute("SELECT sealed FROM meter").fetchone()[0])


def sealed_meter_rows(who: Customer) -> int:
    with sqlite3.connect(who.home.state.path) as conn:
        return int(conn.execute("SELECT count(*) FROM meter").fetchone()[0])


def sync(who: Customer) -> subprocess.CompletedProcess[str]:
    return tg(who.home.root, "sync", "--json")


def held(done: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    return list(json.loads(done.stdout)["stores"][0]["held"])


def store_usage(store: LiveStore) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "tollgate", "store", "usage", str(store.folder.path), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout))


def test_a_clock_moved_past_the_end_and_back_is_refused(buyer: Customer) -> None:
    assert gauge(buyer, at(1)).has("trial")
    with pytest.raises(LicenceExpired):
        gauge(buyer, at(4)).check("trial")  # refused, but the reading is kept
    with pytest.raises(ClockMovedBack, match="behind a time it has already seen"):
        gauge(buyer, at(1)).check("trial")
    # a fresh process (the runtime reads the mark from disk) refuses too
    assert not gauge(buyer, at(2)).has("trial")


def test_deleting_uses_resets_no_cap(buyer: Customer) -> None:
    gauge(buyer).use("two")
    gauge(buyer).use("two")
    edit_state(buyer, "DELETE FROM uses")
    with pytest.raises(UsesExhausted, match="all 2 uses"):
        gauge(buyer).use("two")
    assert not gauge(buyer).has("two")


def test_a_meter_removed_before_any_sync_opens_no_metered_add_on(buyer: Customer) -> None:
    gauge(buyer).use("two")
    gauge(buyer).use("two")
    edit_state(buyer, "DELETE FROM uses")
    edit_state(buyer, "DELETE FROM meter")  # the cap's count, gone with it?
    for addon in ("two", "print"):
        with pytest.raises(MeterMissing, match="tollgate sync"):
            gauge(buyer).use(addon)
    assert gauge(buyer).has("trial")  # what has no count to keep still opens
    assert sealed_meter_rows(buyer) == 0  # and the runtime never starts a meter itself
    done = sync(buyer)  # the purchase told the store to expect one
    assert done.returncode == 3
    assert {h["reason"] for h in held(done)} == {"meter_mismatch"}


def test_a_free_update_to_a_new_release_resets_no_cap(
    gauge_store: LiveStore, buyer: Customer, tmp_path: Path
) -> None:
    gauge(buyer).use("two")
    gauge(buyer).use("two")
    before = buyer.home.state.addons(buyer.account.store_id, "Gauge")["two"].order_id
    source = tmp_path / "src"
    manifest = source / "tollgate.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    gauge_store.ctx.publish(source)
    updated = tg(buyer.home.root, "update")
    assert updated.returncode == 0, updated.stderr
    after = buyer.home.state.addons(buyer.account.store_id, "Gauge")["two"]
    assert after.version == "1.0.1" and after.order_id != before  # a new order, no charge
    with pytest.raises(UsesExhausted, match="all 2 uses"):
        gauge(buyer).use("two")


def test_uses_deleted_before_they_were_sent_hold_the_renewal(
    gauge_store: LiveStore, buyer: Customer
) -> None:
    for _ in range(OFFLINE):
        gauge(buyer).use("print")
    # the offline allowance is full, whatever the rows say
    edit_state(buyer, "DELETE FROM uses")
    with pytest.raises(OfflineUsesExhausted, match="tollgate sync"):
        gauge(buyer).use("print")
    assert buyer.home.state.uses() == []  # the refused use was not recorded
    done = sync(buyer)
    assert done.returncode == 3, done.stderr
    (hold,) = [h for h in held(done) if h["reason"] == "meter_mismatch"][:1]
    assert "3 use(s)" in hold["detail"] and "never reached the store" in hold["detail"]
    assert not json.loads(done.stdout)["stores"][0]["renewed"]
    missing = [u for u in store_usage(gauge_store) if u["status"] == "missing"]
    assert [(u["amount"], u["currency"]) for u in missing] == [(20, "JPY")] * OFFLINE
    # the text path says it too, and names what to do
    again = tg(buyer.home.root, "sync")
    assert again.returncode == 3 and "not renewed" in again.stderr
    # the vendor hears the customer out and clears the hold; the next sync renews
    cleared = subprocess.run(
        [
            *(sys.executable, "-m", "tollgate", "store", "clear-hold"),
            *(str(gauge_store.folder.path), buyer.account.customer_id, "--json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cleared.returncode == 0 and "never reached" in json.loads(cleared.stdout)["cleared"]
    done = sync(buyer)
    assert done.returncode == 0, done.stdout + done.stderr
    assert held(done) == [] and len(json.loads(done.stdout)["stores"][0]["renewed"]) == 3
    gauge(buyer).use("print")  # the allowance is counted from what the store has seen


def test_a_restored_older_meter_is_caught_at_the_next_sync(buyer: Customer) -> None:
    assert gauge(buyer).has("two")  # the first check writes the meter
    older = sealed_meter(buyer)
    gauge(buyer).use("two")
    assert sync(buyer).returncode == 0  # the store learns the meter's generation
    edit_state(buyer, "UPDATE meter SET sealed = ?", older)  # the use is "forgotten"
    gauge(buyer).use("two")  # offline, the copy runs (within the allowance) ...
    gauge(buyer).use("two")  # ... even past the cap of two ...
    done = sync(buyer)  # ... until the store sees it
    assert done.returncode == 3
    details = {h["detail"] for h in held(done)}
    assert any("restored from a copy" in d or "older copy" in d for d in details), details


def test_a_removed_meter_is_caught_at_the_next_sync(buyer: Customer) -> None:
    assert sync(buyer).returncode == 0
    edit_state(buyer, "DELETE FROM meter")
    done = sync(buyer)
    assert done.returncode == 3
    assert all(h["reason"] == "meter_mismatch" for h in held(done))
    assert "restored from a copy or removed" in held(done)[0]["detail"]


def test_a_whole_folder_copied_back_is_caught_at_the_next_sync(
    buyer: Customer, tmp_path: Path
) -> None:
    assert sync(buyer).returncode == 0
    backup = tmp_path / "backup"
    shutil.copytree(buyer.home.root, backup)
    for _ in range(2):
        gauge(buyer).use("print")
    assert sync(buyer).returncode == 0  # charged, and the store knows the newer meter
    shutil.rmtree(buyer.home.root)
    shutil.copytree(backup, buyer.home.root)
    done = sync(buyer)
    assert done.returncode == 3
    assert any("older copy" in h["detail"] or "copy" in h["detail"] for h in held(done))


def test_no_lease_is_renewed_while_a_use_stands_declined(
    gauge_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    who = buyer_with(gauge_store, tmp_path / "declining", DECLINING_CARD, ("print",))
    gauge(who).use("print")
    done = sync(who)
    assert done.returncode == 3
    report = json.loads(done.stdout)["stores"][0]
    assert report["uses"] == {"declined": 1}
    (hold,) = held(done)
    assert hold["reason"] == "payment_declined" and "tollgate card" in hold["detail"]
    assert report["renewed"] == []
    # deleting the declined row on the machine changes nothing at the store
    edit_state(who, "DELETE FROM uses")
    assert [h["reason"] for h in held(sync(who))] == ["payment_declined"]


def test_once_the_card_works_the_declined_use_is_charged_and_the_lease_renews(
    gauge_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    who = buyer_with(gauge_store, tmp_path / "declining", DECLINING_CARD, ("print",))
    gauge(who).use("print")
    assert sync(who).returncode == 3
    good = gauge_store.ctx.gateway.verify_card(CardDetails("4242424242424242", 12, 2034, "123"))
    with gauge_store.ctx.sessions.begin() as s:
        s.execute(
            update(CustomerRow)
            .where(CustomerRow.id == who.account.customer_id)
            .values(card_token=good.token)
        )
    done = sync(who)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["stores"][0]
    assert report["uses"] == {"charged": 1} and report["renewed"] == ["Gauge print"]
    with gauge_store.ctx.sessions() as s:
        assert s.scalars(select(UsageEvent.status)).all() == ["charged"]
