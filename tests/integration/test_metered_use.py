"""Metered use end to end: `Product.use()` records a use with a permanent id, `tollgate sync`
sends it signed, the store charges each id once; offline uses queue; a declined charge stops
further uses until the card works; a cap on uses holds."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from test_cli import tg
from test_purchase import purchase, succeeded_charges

from conftest import Customer, LiveStore, registered, serving, write_tree
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.errors import Refused, Unreachable
from tollgate.client.sync import SyncReport, send_uses, sync_store
from tollgate.runtime import PaymentDeclined, Product, UsesExhausted
from tollgate.store.db import Customer as CustomerRow
from tollgate.store.db import SandboxCharge, UsageEvent
from tollgate.store.payments import CardDetails
from tollgate.store.services import admin

MANIFEST = """
[product]
name = "Meter"
version = "1.0.0"

[core]
files = ["meter/*.py"]
entry = "meter.main:main"

[[addon]]
name = "print"
revision = 1
price = 0
currency = "JPY"
files = ["addons/print/**"]
policy = { per_use = 20 }

[[addon]]
name = "two"
revision = 1
price = 100
currency = "JPY"
files = ["addons/two/**"]
policy = { uses = 2 }
"""
DECLINING_CARD = "4000000000009995"  # passes the card check; every charge fails


def meter_product(where: Path) -> Path:
    files = {"meter/main.py": "def main(argv):\n    return 0\n", "tollgate.toml": MANIFEST}
    for name in ("print", "two"):
        files[f"addons/{name}/meter_{name}/__init__.py"] = f"NAME = {name!r}\n"
    return write_tree(where, files)


@pytest.fixture
def meter_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    with serving(tmp_path / "store", database_url, [meter_product(tmp_path / "src")]) as live:
        yield live


def buyer_with(store: LiveStore, home: Path, card: str = "4242424242424242") -> Customer:
    who = registered(store, home, card, products=("Meter",))
    purchase(store, who, "Meter", "print")
    return who


@pytest.fixture
def buyer(meter_store: LiveStore, tmp_path: Path, machine_a: str) -> Customer:
    return buyer_with(meter_store, tmp_path / "home")


def meter(who: Customer) -> Product:
    return Product.open("Meter", home=who.home.root)


def sync(store: LiveStore, who: Customer) -> SyncReport:
    with StoreAPI(store.url) as api:
        return sync_store(who.home, api, who.account, who.account.unlock(who.home, None))


def use_charges(store: LiveStore) -> list[tuple[str, int, str]]:
    with store.ctx.sessions() as s:
        rows = s.execute(
            select(SandboxCharge.reference, SandboxCharge.amount, SandboxCharge.status)
            .where(SandboxCharge.reference.like("use_%"))
            .order_by(SandboxCharge.created_at)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_each_use_is_charged_once(meter_store: LiveStore, buyer: Customer) -> None:
    charges = succeeded_charges(meter_store)  # buying a per-use add-on costs nothing
    ids = [meter(buyer).use("print", "print-document") for _ in range(3)]
    assert len(set(ids)) == 3
    assert [u.status for u in buyer.home.state.uses()] == ["queued"] * 3
    assert sync(meter_store, buyer).uses == {"charged": 3}
    assert succeeded_charges(meter_store) == charges + 3
    assert [(a, s) for _, a, s in use_charges(meter_store)] == [(20, "succeeded")] * 3
    report = json.loads(tg(buyer.home.root, "usage", "--json").stdout)
    assert report["charged"] == {"JPY": 60} and report["queued"] == 0
    assert {u["status"] for u in report["uses"]} == {"charged"}
    # Nothing is sent twice by a later sync ...
    assert sync(meter_store, buyer).uses == {}
    # ... and sending the same events again (a crash before the answer was recorded) finds
    # them: the same charges, nothing new.
    with sqlite3.connect(buyer.home.state.path) as conn:
        conn.execute("UPDATE uses SET status = 'queued'")
    assert sync(meter_store, buyer).uses == {"charged": 3}
    assert succeeded_charges(meter_store) == charges + 3
    with meter_store.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(UsageEvent)) == 3
    vendor = tg(buyer.home.root, "store", "usage", str(meter_store.folder.path), "--json")
    seen = json.loads(vendor.stdout)
    assert sorted(u["event_id"] for u in seen) == sorted(ids)
    assert {(u["product"], u["addon"], u["name"], u["amount"], u["status"]) for u in seen} == {
        ("Meter", "print", "print-document", 20, "charged")
    }
    assert all(u["customer_id"] == buyer.account.customer_id and u["charge_id"] for u in seen)


def test_offline_uses_queue_and_are_sent_later(meter_store: LiveStore, buyer: Customer) -> None:
    meter(buyer).use("print")
    meter(buyer).use("print")
    keys = buyer.account.unlock(buyer.home, None)
    with StoreAPI("http://127.0.0.1:9") as offline, pytest.raises(Unreachable):
        send_uses(buyer.home, offline, buyer.account, keys, SyncReport(buyer.account.store_id))
    assert [u.status for u in buyer.home.state.uses()] == ["queued", "queued"]
    assert use_charges(meter_store) == []
    done = tg(buyer.home.root, "sync")
    assert done.returncode == 0, done.stderr
    assert "2 use(s) charged" in done.stdout
    assert len(use_charges(meter_store)) == 2


def test_a_declined_use_stops_further_uses_until_the_card_works(
    meter_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    who = buyer_with(meter_store, tmp_path / "declining", DECLINING_CARD)
    meter(who).use("print")
    assert sync(meter_store, who).uses == {"declined": 1}
    with pytest.raises(PaymentDeclined, match="20 JPY"):
        meter(who).use("print")
    assert len(who.home.state.uses()) == 1  # the refused use was not recorded
    listing = tg(who.home.root, "usage")
    assert "1 declined (run `tollgate sync` once the card works)" in " ".join(
        listing.stdout.split()
    )
    # The customer registers a working card (what `tollgate card` does at the store) ...
    good = meter_store.ctx.gateway.verify_card(CardDetails("4242424242424242", 12, 2034, "123"))
    with meter_store.ctx.sessions.begin() as s:
        s.execute(
            update(CustomerRow)
            .where(CustomerRow.id == who.account.customer_id)
            .values(card_token=good.token)
        )
    # ... and the next sync charges the declined use, once.
    assert sync(meter_store, who).uses == {"charged": 1}
    assert [s for _, _, s in use_charges(meter_store)] == ["failed", "succeeded"]
    meter(who).use("print")
    assert sync(meter_store, who).uses == {"charged": 1}


def test_a_cap_on_uses_holds(meter_store: LiveStore, buyer: Customer) -> None:
    purchase(meter_store, buyer, "Meter", "two")
    meter(buyer).use("two")
    meter(buyer).use("two")
    assert not meter(buyer).has("two")
    with pytest.raises(UsesExhausted, match="all 2 uses"):
        meter(buyer).use("two")
    assert sync(meter_store, buyer).uses == {"recorded": 2}  # counted, not charged per use


def test_the_store_refuses_reused_ids_and_uses_of_refunded_orders(
    meter_store: LiveStore, buyer: Customer
) -> None:
    event_id = meter(buyer).use("print")
    sync(meter_store, buyer)
    order_id = buyer.home.state.addons(buyer.account.store_id, "Meter")["print"].order_id
    signer = Signer(buyer.account.customer_id, buyer.account.unlock_purchase_key(buyer.home, None))
    same_id_other_use = {
        "events": [
            {
                "event_id": event_id,
                "order_id": order_id,
                "name": "other",
                "at": "2026-01-01T00:00:00Z",
            }
        ]
    }
    with StoreAPI(meter_store.url) as api:
        answer = api.request("POST", "/v1/uses", body=same_id_other_use, signer=signer)
    assert answer["results"][0] == {
        "event_id": event_id,
        "status": "refused",
        "failure_code": "event_id_reused",
    }
    purchase(meter_store, buyer, "Meter", "two")
    two = buyer.home.state.addons(buyer.account.store_id, "Meter")["two"].order_id
    admin.refund_order(
        meter_store.ctx.sessions, meter_store.ctx.gateway, two, meter_store.ctx.clock()
    )
    meter(buyer).use("two")  # still leased on this machine until the next renewal
    assert sync(meter_store, buyer).uses == {"refused": 1}
    assert sync(meter_store, buyer).uses == {}  # a refused use is not sent again


@pytest.mark.parametrize(
    "events",
    [
        [],
        [{"event_id": "short", "order_id": "ord_x", "name": "use", "at": "2026-01-01T00:00:00Z"}],
        [{"event_id": "use_12345678", "order_id": "ord_x", "name": "use", "at": "2026-01-01"}],
        [{"event_id": "use_12345678", "order_id": "ord_x", "name": "", "at": "2026-01-01T00:00Z"}],
    ],
    ids=["no events", "short id", "time without zone", "empty name"],
)
def test_malformed_uses_are_refused_and_nothing_is_recorded(
    meter_store: LiveStore, buyer: Customer, events: list[dict[str, str]]
) -> None:
    signer = Signer(buyer.account.customer_id, buyer.account.unlock_purchase_key(buyer.home, None))
    with StoreAPI(meter_store.url) as api, pytest.raises(Refused) as info:
        api.request("POST", "/v1/uses", body={"events": events}, signer=signer)
    assert info.value.code == "malformed_request"
    with meter_store.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(UsageEvent)) == 0
