"""Signed requests on the way (issue 15, finding 5), against a real store on loopback: every
header the store reads is covered, a nonce is remembered only for a request that passed every
check, and the window is ±300 s both ways."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import func, select
from test_attacks import MT_DIC2, post
from test_purchase import succeeded_charges

from conftest import Customer, LiveStore
from tollgate.protocol.httpsig import sign_request
from tollgate.store.db import RequestNonce


def signed(
    store: LiveStore,
    who: Customer,
    body: bytes,
    *,
    idem: str = "idem-sig-0001",
    skew: float = 0,
    content_type: str = "application/json",
) -> dict[str, str]:
    return sign_request(
        "POST",
        f"{store.url}/v1/orders",
        {"Idempotency-Key": idem, "Content-Type": content_type},
        body,
        key_id=who.account.customer_id,
        key=who.account.unlock_purchase_key(who.home, None),
        now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew),
    )


def nonces(store: LiveStore) -> int:
    with store.ctx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(RequestNonce)) or 0)


def test_a_changed_content_type_is_refused_and_burns_no_nonce(
    store: LiveStore, customer: Customer
) -> None:
    body = json.dumps(MT_DIC2).encode()
    headers = signed(store, customer, body)
    before = nonces(store)
    for changed in ("text/plain", "application/x-www-form-urlencoded", "application/json; x=1"):
        r = post(store, body, {**headers, "Content-Type": changed})
        assert r.status_code == 401 and r.json()["code"] == "bad_signature", r.text
    r = httpx.post(
        f"{store.url}/v1/orders",
        content=body,
        headers={**headers, "Range": "bytes=0-10"},  # a header the store reads, added
    )
    assert r.status_code == 401
    assert nonces(store) == before and succeeded_charges(store) == 0
    genuine = post(store, body, headers)  # the genuine request still goes through, once
    assert genuine.status_code == 200, genuine.text
    assert succeeded_charges(store) == 1


@pytest.mark.parametrize(
    "body",
    [b'{"product": "MT"}', b"not json", b'{"product": "MT", "addon": "dic2", "version": 3}'],
)
def test_a_signed_body_the_store_refuses_remembers_no_nonce(
    store: LiveStore, customer: Customer, body: bytes
) -> None:
    before = nonces(store)
    r = post(store, body, signed(store, customer, body))
    assert r.status_code == 400 and r.json()["code"] == "malformed_request"
    assert nonces(store) == before and succeeded_charges(store) == 0


def test_a_signature_without_its_idempotency_key_remembers_no_nonce(
    store: LiveStore, customer: Customer
) -> None:
    body = json.dumps(MT_DIC2).encode()
    headers = sign_request(
        "POST",
        f"{store.url}/v1/orders",
        {"Content-Type": "application/json"},
        body,
        key_id=customer.account.customer_id,
        key=customer.account.unlock_purchase_key(customer.home, None),
        now=dt.datetime.now(dt.UTC),
    )
    before = nonces(store)
    r = post(store, body, headers)
    assert r.status_code == 400 and nonces(store) == before


@pytest.mark.parametrize(
    ("skew", "accepted"), [(-290, True), (290, True), (-310, False), (310, False)]
)
def test_the_window_is_the_same_both_ways(
    store: LiveStore, customer: Customer, skew: float, accepted: bool
) -> None:
    body = json.dumps(MT_DIC2).encode()
    r = post(store, body, signed(store, customer, body, skew=skew, idem=f"idem-skew-{skew}"))
    if accepted:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 401 and "time window" in r.json()["detail"]
        assert succeeded_charges(store) == 0
