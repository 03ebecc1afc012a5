"""Registration: open the sealed request, check the card, store the customer, sign a receipt.

Every decline reads the same to the caller (``card_declined``, one generic message) so the
endpoint is no card-testing oracle; the precise reason goes to the store's log by code only.
Nothing is stored unless the card check passes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tollgate.crypto import IntegrityError
from tollgate.crypto.documents import sign_document
from tollgate.crypto.keys import seal_secret
from tollgate.crypto.sealing import sealing_info
from tollgate.store.db import Customer
from tollgate.store.folder import StoreKeys
from tollgate.store.payments import CardToken, Gateway
from tollgate.store.schemas import RegistrationRequest, SealedRegistration
from tollgate.store.services.card_checks import check_card
from tollgate.store.services.errors import StoreError

log = logging.getLogger("tollgate.store.registration")
M = TypeVar("M", bound=BaseModel)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StoreError("malformed_request", f"{what} is not base64") from exc


def open_sealed(keys: StoreKeys, sealed: str, info: bytes, model: type[M], what: str) -> M:
    """Open a request sealed to the store and read it as ``model``."""
    try:
        opened = keys.sealing.open(_b64(sealed, "sealed"), info)
        return model.model_validate(json.loads(opened))
    except IntegrityError as exc:
        raise StoreError("malformed_request", f"the sealed {what} does not open") from exc
    except (ValueError, ValidationError) as exc:
        raise StoreError("malformed_request", f"the sealed {what} is invalid: {exc}") from exc


def card_summary(token: CardToken) -> dict[str, str]:
    """What a receipt says of a card: never more than brand, last four digits and expiry."""
    return {
        "brand": token.brand,
        "last4": token.last4,
        "expiry": f"{token.exp_month:02d}/{token.exp_year % 100:02d}",
    }


def register(
    sessions: sessionmaker[Session],
    gateway: Gateway,
    keys: StoreKeys,
    *,
    store_id: str,
    request: RegistrationRequest,
    now: dt.datetime,
) -> dict[str, Any]:
    if request.store_id != store_id:
        raise StoreError("wrong_store", "this registration was sealed for another store")
    info = sealing_info("registration", store_id, request.customer_id, request.nonce)
    inner = open_sealed(keys, request.sealed, info, SealedRegistration, "registration")
    if inner.customer_id != request.customer_id:
        raise StoreError("malformed_request", "sealed and outer customer ids differ")
    customer_key = _b64(inner.customer_key, "customer_key")
    purchase_key = _b64(inner.purchase_key, "purchase_key")
    if len(customer_key) != 32 or len(purchase_key) != 32:
        raise StoreError("malformed_request", "customer and purchase keys must be 32 bytes")

    with sessions() as s:
        if s.get(Customer, inner.customer_id) is not None:
            raise StoreError("customer_id_taken", "choose another customer id and retry")
    token = check_card(sessions, gateway, keys.master, inner.card, purpose="registration", now=now)

    customer = Customer(
        id=inner.customer_id,
        name=inner.name,
        email=inner.email,
        country=inner.country,
        key_sealed=seal_secret(keys.master, "customer-key", inner.customer_id, customer_key),
        purchase_key_sealed=seal_secret(
            keys.master, "purchase-key", inner.customer_id, purchase_key
        ),
        card_token=token.token,
        card_brand=token.brand,
        card_last4=token.last4,
        card_exp_month=token.exp_month,
        card_exp_year=token.exp_year,
        status="active",
        licence_counter=0,
        registered_at=now,
    )
    try:
        with sessions.begin() as s:
            s.add(customer)
    except DBIntegrityError as exc:
        raise StoreError("customer_id_taken", "choose another customer id and retry") from exc
    receipt = {
        "type": "registration-receipt",
        "store_id": store_id,
        "customer_id": customer.id,
        "registered_at": now.isoformat(),
        "card": card_summary(token),
    }
    return sign_document(receipt, keys.licence)
