"""A sandbox payment processor with test cards, in the store's database but apart from it.

It behaves like a real processor: Luhn, expiry and CVC checks; a token per verified card;
charges idempotent by key (a replay returns the first outcome, a reused key with other terms
is refused); refunds. Its own transactions commit independently of the store's, as a remote
processor's would, so the store's crash-repair paths meet the real thing.

Test cards (any future expiry, any 3-digit CVC):

| number | behaviour |
|---|---|
| 4242424242424242 | succeeds |
| 4000000000000002 | declined at the card check |
| 4000000000009995 | passes the card check; every charge fails: insufficient funds |
| 4000000000000069 | expired card |
| 4000000000000127 | incorrect CVC |
| 5555555555554444 | succeeds (Mastercard) |

Any other Luhn-valid number is declined as unknown to the sandbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tollgate.store.db import SandboxCard, SandboxCharge
from tollgate.store.payments import (
    CardDeclined,
    CardDetails,
    CardToken,
    Charge,
    IdempotencyConflict,
)
from tollgate.wire.cards import luhn_ok

TEST_CARDS = {
    "4242424242424242": "succeed",
    "5555555555554444": "succeed",
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
}


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"}:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


class SandboxGateway:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def verify_card(self, card: CardDetails) -> CardToken:
        number = card.number.replace(" ", "").replace("-", "")
        if not luhn_ok(number):
            raise CardDeclined("incorrect_number")
        if not 1 <= card.exp_month <= 12:
            raise CardDeclined("invalid_expiry")
        now = self._clock()
        if (card.exp_year, card.exp_month) < (now.year, now.month):
            raise CardDeclined("expired_card")
        if not (card.cvc.isdigit() and len(card.cvc) in (3, 4)):
            raise CardDeclined("incorrect_cvc")
        behaviour = TEST_CARDS.get(number, "unknown_card")
        if behaviour in ("declined", "unknown_card", "expired_card", "incorrect_cvc"):
            raise CardDeclined(behaviour)
        token = CardToken(
            "tok_" + secrets.token_hex(12),
            brand_of(number),
            number[-4:],
            card.exp_month,
            card.exp_year,
        )
        with self._sessions.begin() as s:
            s.add(
                SandboxCard(
                    token=token.token,
                    brand=token.brand,
                    last4=token.last4,
                    exp_month=token.exp_month,
                    exp_year=token.exp_year,
                    behaviour=behaviour,
                    created_at=now,
                )
            )
        return token

    @staticmethod
    def _to_charge(row: SandboxCharge) -> Charge:
        return Charge(
            row.id,
            row.idempotency_key,
            row.amount,
            row.currency,
            row.reference,
            row.status,
            row.failure_code,
        )

    def charge(
        self, token: str, *, amount: int, currency: str, idempotency_key: str, reference: str
    ) -> Charge:
        if amount <= 0:
            raise ValueError("amount must be positive")
        terms: dict[str, Any] = {"t": token, "a": amount, "c": currency, "r": reference}
        request_hash = hashlib.sha256(repr(sorted(terms.items())).encode()).hexdigest()
        row = self._find(idempotency_key)
        replayed = row is not None
        if row is None:
            now = self._clock()
            with self._sessions() as s:
                card = s.get(SandboxCard, token)
                status, failure = "succeeded", None
                if card is None:
                    status, failure = "failed", "invalid_token"
                elif card.behaviour == "insufficient_funds":
                    status, failure = "failed", "insufficient_funds"
                elif (card.exp_year, card.exp_month) < (now.year, now.month):
                    status, failure = "failed", "expired_card"
                s.add(
                    SandboxCharge(
                        id="ch_" + secrets.token_hex(12),
                        idempotency_key=idempotency_key,
                        request_hash=request_hash,
                        token=token,
                        amount=amount,
                        currency=currency,
                        reference=reference,
                        status=status,
                        failure_code=failure,
                        created_at=now,
                    )
                )
                try:
                    s.commit()
                except IntegrityError:  # a concurrent request with the same key won the race
                    s.rollback()
                    replayed = True
            row = self._find(idempotency_key)
            assert row is not None
        if row.request_hash != request_hash:
            raise IdempotencyConflict(f"idempotency key {idempotency_key} has other terms")
        return dataclasses.replace(self._to_charge(row), replayed=replayed)

    def _find(self, idempotency_key: str) -> SandboxCharge | None:
        with self._sessions() as s:
            return s.scalars(
                select(SandboxCharge).where(SandboxCharge.idempotency_key == idempotency_key)
            ).one_or_none()

    def find_charge(self, idempotency_key: str) -> Charge | None:
        row = self._find(idempotency_key)
        return None if row is None else self._to_charge(row)

    def refund(self, charge_id: str) -> Charge:
        with self._sessions.begin() as s:
            row = s.get(SandboxCharge, charge_id, with_for_update=True)
            if row is None:
                raise KeyError(charge_id)
            if row.status == "succeeded":
                row.status = "refunded"
            return self._to_charge(row)
