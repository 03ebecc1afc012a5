"""Verifying signed requests: signature under the customer's PK, window, one use per nonce.

A nonce is remembered only once the request passed every check this module and the caller's
``validate`` make (the body parsed by the route's model), so nothing a request carries that
the store refuses can use up a genuine request's nonce."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tollgate.crypto import IntegrityError, SignatureError
from tollgate.crypto.keys import open_secret
from tollgate.protocol.httpsig import WINDOW, RequestView, signature_key_id, verify_request
from tollgate.store.db import Customer, RequestNonce
from tollgate.store.services.errors import StoreError

# Nonces are kept past the window on both sides, plus slack for clock skew between processes.
NONCE_TTL = 2 * WINDOW + dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Caller:
    customer_id: str


def authenticate(
    sessions: sessionmaker[Session],
    master_key: bytes,
    view: RequestView,
    body: bytes,
    now: dt.datetime,
    validate: Callable[[], None] = lambda: None,
) -> Caller:
    key_id = signature_key_id(view.headers)
    if not key_id:
        raise StoreError("bad_signature", "this request must be signed with the purchase key")
    with sessions() as s:
        customer = s.get(Customer, key_id)
        if customer is None:
            raise StoreError("unknown_customer", "no such customer at this store")
        if customer.status != "active":  # a stopped customer's keys are erased
            raise StoreError("customer_stopped", "this store no longer sells to this customer")
        try:
            purchase_key = open_secret(
                master_key, "purchase-key", customer.id, customer.purchase_key_sealed
            )
        except IntegrityError as exc:
            raise StoreError("internal_error", "stored key does not open") from exc
    try:
        signed = verify_request(
            view, body, lookup=lambda k: purchase_key if k == key_id else None, now=now
        )
    except SignatureError as exc:
        raise StoreError("bad_signature", str(exc)) from exc
    validate()
    try:
        with sessions.begin() as s:
            s.execute(delete(RequestNonce).where(RequestNonce.expires_at < now))
            s.add(
                RequestNonce(
                    key_id=key_id, nonce=signed.nonce, expires_at=signed.created + NONCE_TTL
                )
            )
    except DBIntegrityError as exc:
        raise StoreError("replayed_request", "this signed request was already used") from exc
    return Caller(key_id)
