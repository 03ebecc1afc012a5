"""DESIGN.md section 7, as far as the foundation reaches: each attack fails, nothing is
charged or stored, and the server keeps serving."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from test_purchase import purchase, succeeded_charges

from conftest import MT, Customer, LiveStore, card, start_store
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.errors import IntegrityFailure, Refused
from tollgate.client.registration import register
from tollgate.crypto.keyfile import Binding
from tollgate.protocol.httpsig import sign_request
from tollgate.runtime.home import ClientHome
from tollgate.store.db import Customer as CustomerRow
from tollgate.store.db import Order, SandboxCard
from tollgate.store.payments import Charge
from tollgate.store.schemas import OrderRequest
from tollgate.store.services.orders import OrderService


def signed_order(
    store: LiveStore,
    who: Customer,
    body: dict[str, str],
    idem: str,
    key: bytes | None = None,
    base_url: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A signed order request; signatures cover the target URI, so sign for where it goes."""
    content = json.dumps(body).encode()
    pk = key if key is not None else who.account.unlock_purchase_key(who.home, None)
    headers = sign_request(
        "POST",
        f"{base_url or store.url}/v1/orders",
        {"Idempotency-Key": idem, "Content-Type": "application/json"},
        content,
        key_id=who.account.customer_id,
        key=pk,
        now=dt.datetime.now(dt.UTC),
    )
    return content, headers


MT_DIC2 = {"product": "MT", "addon": "dic2", "version": "1.0.0"}


def post(store: LiveStore, content: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{store.url}/v1/orders", content=content, headers=headers)


def test_replayed_order_is_refused(store: LiveStore, customer: Customer) -> None:
    content, headers = signed_order(store, customer, MT_DIC2, "idem-replay-1")
    assert post(store, content, headers).status_code == 200
    again = post(store, content, headers)
    assert again.status_code == 401 and again.json()["code"] == "replayed_request"
    assert succeeded_charges(store) == 1


def test_altered_order_is_refused_and_charges_nothing(store: LiveStore, customer: Customer) -> None:
    content, headers = signed_order(store, customer, {**MT_DIC2, "addon": "other"}, "idem-alt-1")
    altered = content.replace(b'"other"', b'"dic2"')
    r = post(store, altered, headers)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    assert r.headers["content-type"] == "application/problem+json"
    assert succeeded_charges(store) == 0


def test_order_without_purchase_key_does_not_charge_the_victim(
    store: LiveStore, customer: Customer
) -> None:
    content, headers = signed_order(store, customer, MT_DIC2, "idem-forged-1", key=os.urandom(32))
    r = post(store, content, headers)
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    unsigned = post(
        store, content, {"Idempotency-Key": "idem-unsigned", "Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert succeeded_charges(store) == 0


def test_idempotency_key_reused_for_a_dearer_order_is_422(
    store: LiveStore, customer: Customer
) -> None:
    cheap = {"product": "Tools", "addon": "cheap", "version": "2.0.0"}
    pro = {"product": "Tools", "addon": "pro", "version": "2.0.0"}
    assert post(store, *signed_order(store, customer, cheap, "idem-same-key")).status_code == 200
    r = post(store, *signed_order(store, customer, pro, "idem-same-key"))
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    with store.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
    assert succeeded_charges(store) == 1


def test_concurrent_purchases_from_threads_charge_once(
    store: LiveStore, customer: Customer
) -> None:
    results: list[int] = []

    def one(i: int) -> None:
        results.append(
            post(store, *signed_order(store, customer, MT_DIC2, f"idem-th-{i}")).status_code
        )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 8
    assert succeeded_charges(store) == 1


class CrashAfterCharge:
    """The real sandbox gateway, with the store process 'dying' right after the charge."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def charge(self, token: str, **kw: object) -> Charge:
        self.inner.charge(token, **kw)  # type: ignore[attr-defined]
        raise SystemExit("crash between the charge and the order's completion")


def test_crash_between_charge_and_completion_is_repaired_without_second_charge(
    store: LiveStore, customer: Customer
) -> None:
    ctx = store.ctx
    crashing = OrderService(
        ctx.sessions,
        CrashAfterCharge(ctx.gateway),  # type: ignore[arg-type]
        ctx.folder.keys,
        ctx.store_id,
        ctx.clock,
    )
    order = OrderRequest(product="MT", addon="dic2", version="1.0.0")
    with pytest.raises(SystemExit):
        crashing.place(customer.account.customer_id, order, "idem-crash-1")
    with ctx.sessions() as s:
        assert s.scalar(select(Order.status)) == "pending"
    assert succeeded_charges(store) == 1
    # The sweep at start-up asks the gateway and completes the order.
    later = OrderService(
        ctx.sessions,
        ctx.gateway,
        ctx.folder.keys,
        ctx.store_id,
        lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    assert later.repair_pending() == 1
    with ctx.sessions() as s:
        assert s.scalar(select(Order.status)) == "paid"
    # The customer's own retry gets the licence; still one charge.
    assert purchase(store, customer).amount == 300
    assert succeeded_charges(store) == 1


def test_broken_download_resumes_without_second_charge(
    store: LiveStore, customer: Customer
) -> None:
    purchase(store, customer)
    vault = [p for p in (customer.home.root / "vault").rglob("*") if p.is_file()]
    big = max(vault, key=lambda p: p.stat().st_size)
    data = big.read_bytes()
    big.unlink()
    big.with_name(big.name + ".part").write_bytes(data[: len(data) // 3])  # broke off here
    purchase(store, customer)
    assert big.read_bytes() == data
    assert succeeded_charges(store) == 1


# What each sandbox card's decline reads as: an expired card and a failed CVC as such (the
# customer can fix them, and payment processors say them), every other reason the same.
SAID = {
    "4000000000000002": "card_declined",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4242424242424241": "card_declined",  # fails its check digit (the CLI stops it before)
}


@pytest.mark.parametrize("number", list(SAID))
def test_declined_card_at_registration_stores_nothing(
    store: LiveStore, tmp_path: Path, machine_a: str, number: str
) -> None:
    home = ClientHome(tmp_path / "h")
    with StoreAPI(store.url) as api, pytest.raises(Refused) as info:
        register(home, api, card(number), binding=Binding.MACHINE, password=None)
    assert info.value.code == SAID[number]
    if SAID[number] == "card_declined":  # a real decline stays generic
        assert str(info.value) == "The card was declined. Check the details or use another card."
    with store.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CustomerRow)) == 0
        assert s.scalar(select(func.count()).select_from(SandboxCard)) == 0
    assert not home.root.exists() or not list(home.root.rglob("keyfile.json"))


def test_card_number_never_reaches_the_database(store: LiveStore, customer: Customer) -> None:
    with store.ctx.sessions() as s:
        row = s.get_one(CustomerRow, customer.account.customer_id)
        assert (row.card_last4, row.card_brand) == ("4242", "visa")
        dumped = repr([getattr(row, c.key) for c in CustomerRow.__table__.columns])
    assert "4242424242424242" not in dumped


@pytest.mark.parametrize(
    ("path", "content", "headers", "code"),
    [
        (
            "/v1/registrations",
            b"{not json",
            {"Content-Type": "application/json"},
            "malformed_request",
        ),
        (
            "/v1/registrations",
            json.dumps({"store_id": "x"}).encode(),
            {"Content-Type": "application/json"},
            "malformed_request",
        ),
        (
            "/v1/registrations",
            b"x" * 200_000,
            {"Content-Type": "application/json"},
            "payload_too_large",
        ),
        (
            "/v1/orders",
            b"[]",
            {"Content-Type": "application/json", "Idempotency-Key": "abcdefghij"},
            "bad_signature",
        ),
    ],
)
def test_malformed_and_oversized_requests_get_problems(
    store: LiveStore, path: str, content: bytes, headers: dict[str, str], code: str
) -> None:
    r = httpx.post(store.url + path, content=content, headers=headers)
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert httpx.get(store.url + "/v1/store").status_code == 200  # still serving


def test_sealed_registration_for_another_customer_id_does_not_open(store: LiveStore) -> None:
    body = {
        "store_id": store.ctx.store_id,
        "customer_id": "cu_aaaaaaaaaaaa",
        "nonce": "n" * 20,
        "sealed": base64.b64encode(os.urandom(1200)).decode(),
    }
    r = httpx.post(store.url + "/v1/registrations", json=body)
    assert r.status_code == 400 and r.json()["code"] == "malformed_request"


def test_taken_customer_id_is_retried_by_the_client(
    store: LiveStore, customer: Customer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tollgate.client.registration as reg

    ids = iter([customer.account.customer_id, "cu_" + "b" * 32])
    monkeypatch.setattr(reg, "new_customer_id", lambda: next(ids))
    with StoreAPI(store.url) as api:
        done = register(
            ClientHome(tmp_path / "second"), api, card(), binding=Binding.MACHINE, password=None
        )
    assert done.account.customer_id == "cu_" + "b" * 32


def test_fake_store_without_the_pinned_root_is_refused(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    fake = start_store(tmp_path / "fake", f"sqlite:///{tmp_path / 'fake.db'}", [MT])
    try:
        with StoreAPI(fake.url) as api, pytest.raises(IntegrityFailure, match="failed its check"):
            account_catalog(api, customer.home, customer.account)
    finally:
        fake.server.stop()
        fake.ctx.close()


def test_hammering_registration_is_rate_limited_and_declines_read_the_same(
    tmp_path: Path, machine_a: str
) -> None:
    live = start_store(
        tmp_path / "s", f"sqlite:///{tmp_path / 's.db'}", [], registrations_per_minute=3
    )
    try:
        answers = []
        for number in [
            "4000000000000002",  # declined
            "4111111111111111",  # unknown to the gateway
            "4242424242424241",  # fails its check digit (the CLI would have said so)
            "4000000000000002",
        ]:
            with StoreAPI(live.url) as api, pytest.raises(Refused) as info:
                register(
                    ClientHome(tmp_path / number),
                    api,
                    card(number),
                    binding=Binding.MACHINE,
                    password=None,
                )
            answers.append((info.value.code, str(info.value)))
        # Every decline but an expired card and a failed CVC (SAID) reads the same.
        assert len({a for a in answers[:3]}) == 1
        assert answers[3][0] == "rate_limited"
    finally:
        live.server.stop()
