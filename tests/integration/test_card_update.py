"""`tollgate card`: a new card sealed to the store inside a request signed with the purchase
key; checked by the gateway; a decline keeps the old card; replays and other customers' keys
are refused (DESIGN.md section 7)."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import httpx
import pytest
from test_attacks import SAID
from test_cli import tg
from test_purchase import purchase

from conftest import Customer, LiveStore, registered
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.card import Card, replace_card
from tollgate.client.errors import Refused
from tollgate.crypto.sealing import SealingPublicKey, sealing_info
from tollgate.store.db import Customer as CustomerRow
from tollgate.store.services.admin import stop_selling


class Recording(httpx.HTTPTransport):
    """The real transport, keeping a copy of each request sent (to replay it)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def _card_on_file(store: LiveStore, who: Customer) -> tuple[str, int, int, str]:
    with store.ctx.sessions() as s:
        row = s.get(CustomerRow, who.account.customer_id)
        assert row is not None
        return row.card_last4, row.card_exp_month, row.card_exp_year, row.card_token


def _replace(store: LiveStore, who: Customer, number: str, **kw: object) -> dict[str, str]:
    pk = who.account.unlock_purchase_key(who.home, None)
    with StoreAPI(store.url, **kw) as api:  # type: ignore[arg-type]
        return replace_card(who.home, api, who.account, pk, Card(number, 11, 2035, "321"))


def test_a_new_card_is_charged_from_then_on(
    store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    who = registered(store, tmp_path / "home", number="4000000000009995")  # charges fail
    with pytest.raises(Refused) as failed:
        purchase(store, who)
    assert failed.value.code == "payment_failed"

    summary = _replace(store, who, "5555555555554444")
    assert summary == {"brand": "mastercard", "last4": "4444", "expiry": "11/35"}
    assert _card_on_file(store, who)[:3] == ("4444", 11, 2035)
    receipt = json.loads(
        (who.home.store_dir(who.account.store_id) / "card-receipt.json").read_text()
    )
    assert "5555555555554444" not in json.dumps(receipt)
    assert purchase(store, who).amount == 300


@pytest.mark.parametrize(
    "number", ["4000000000000002", "4000000000000069", "4000000000000127", "4242424242424241"]
)
def test_a_declined_card_keeps_the_old_one(
    store: LiveStore, customer: Customer, number: str
) -> None:
    before = _card_on_file(store, customer)
    with pytest.raises(Refused) as declined:
        _replace(store, customer, number)
    assert declined.value.code == SAID[number]
    assert _card_on_file(store, customer) == before
    assert purchase(store, customer).amount == 300  # still charged to the old card


def test_a_replayed_card_update_is_refused(store: LiveStore, customer: Customer) -> None:
    recording = Recording()
    _replace(store, customer, "5555555555554444", transport=recording)
    old = next(r for r in recording.sent if r.url.path == "/v1/card")
    _replace(store, customer, "4242424242424242")
    replayed = httpx.post(str(old.url), content=old.content, headers=dict(old.headers))
    assert replayed.status_code == 401 and replayed.json()["code"] == "replayed_request"
    assert _card_on_file(store, customer)[0] == "4242"


def _sealed_for(store: LiveStore, who: Customer, number: str, nonce: str) -> str:
    descriptor = store.ctx.folder.keys.sealing.public_key()
    sealed = SealingPublicKey(descriptor.raw).seal(
        json.dumps(
            {
                "customer_id": who.account.customer_id,
                "card": {"number": number, "exp_month": 1, "exp_year": 2036, "cvc": "999"},
            }
        ).encode(),
        sealing_info("card-update", who.account.store_id, who.account.customer_id, nonce),
    )
    return base64.b64encode(sealed).decode()


def test_an_update_not_signed_by_the_customer_is_refused(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    before = _card_on_file(store, customer)
    nonce = secrets.token_urlsafe(24)
    body = {"nonce": nonce, "sealed": _sealed_for(store, customer, "5555555555554444", nonce)}
    unsigned = httpx.post(f"{store.url}/v1/card", json=body)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "bad_signature"

    # Another customer signs it with their own key: sealed to the victim's id, it does not open.
    mallory = registered(store, tmp_path / "mallory", products=())
    signer = Signer(
        mallory.account.customer_id, mallory.account.unlock_purchase_key(mallory.home, None)
    )
    with StoreAPI(store.url) as api, pytest.raises(Refused) as refused:
        api.request("POST", "/v1/card", body=body, signer=signer)
    assert refused.value.code == "malformed_request" and "does not open" in str(refused.value)

    # Signed with a guessed key under the victim's id: the signature does not verify.
    forged = Signer(customer.account.customer_id, secrets.token_bytes(32))
    with StoreAPI(store.url) as api, pytest.raises(Refused) as bad:
        api.request("POST", "/v1/card", body=body, signer=forged)
    assert bad.value.code == "bad_signature"
    assert _card_on_file(store, customer) == before


def test_a_stopped_customer_cannot_register_a_card(store: LiveStore, customer: Customer) -> None:
    with store.ctx.sessions.begin() as s:
        stop_selling(s, customer.account.customer_id)
    with pytest.raises(Refused) as stopped:
        _replace(store, customer, "5555555555554444")
    assert stopped.value.code == "customer_stopped"


def test_card_command(store: LiveStore, customer: Customer) -> None:
    home = customer.home.root
    done = tg(
        home, "card", "--card", "5555555555554444", "--expiry", "10/33", "--cvc", "123", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["card"]["last4"] == "4444"
    declined = tg(home, "card", "--card", "4000000000000002", "--expiry", "10/33", "--cvc", "123")
    assert declined.returncode == 3 and "declined" in declined.stderr
    missing = tg(home, "card", "--card", "5555555555554444")
    assert missing.returncode == 2 and "--expiry" in missing.stderr
