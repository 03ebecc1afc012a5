"""Card update (DESIGN.md section 4): a customer replaces the card the store charges.

The new card arrives sealed to the store's HPKE key, with ``info`` naming the purpose, the store,
the caller and the request's nonce, inside a request signed with the caller's purchase key: only
the customer can send it, a blob sealed for someone else does not open under the caller's id,
and a replayed request is refused by its signature nonce (store/auth.py). The gateway checks
the card before anything changes; a decline keeps the old card and reads like every other
decline (no card-testing oracle).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tollgate.crypto.documents import sign_document
from tollgate.crypto.sealing import sealing_info
from tollgate.store.db import Customer
from tollgate.store.folder import StoreKeys
from tollgate.store.payments import Gateway
from tollgate.store.schemas import CardUpdateRequest, SealedCardUpdate
from tollgate.store.services.card_checks import check_card
from tollgate.store.services.errors import StoreError
from tollgate.store.services.registration import card_summary, open_sealed


def update_card(
    sessions: sessionmaker[Session],
    gateway: Gateway,
    keys: StoreKeys,
    *,
    store_id: str,
    customer_id: str,
    request: CardUpdateRequest,
    now: dt.datetime,
) -> dict[str, Any]:
    info = sealing_info("card-update", store_id, customer_id, request.nonce)
    inner = open_sealed(keys, request.sealed, info, SealedCardUpdate, "card")
    if inner.customer_id != customer_id:
        raise StoreError("malformed_request", "the sealed card names another customer")
    token = check_card(sessions, gateway, keys.master, inner.card, purpose="card update", now=now)
    with sessions.begin() as s:
        customer = s.get(Customer, customer_id, with_for_update=True)
        if customer is None or customer.status != "active":
            raise StoreError("customer_stopped", "this store no longer sells to this customer")
        customer.card_token = token.token
        customer.card_brand = token.brand
        customer.card_last4 = token.last4
        customer.card_exp_month = token.exp_month
        customer.card_exp_year = token.exp_year
    receipt = {
        "type": "card-receipt",
        "store_id": store_id,
        "customer_id": customer_id,
        "updated_at": now.isoformat(),
        "card": card_summary(token),
    }
    return sign_document(receipt, keys.licence)
