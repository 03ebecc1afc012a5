"""Checking a card with the gateway, without becoming a card-testing oracle.

An expired card and a failed CVC are said as such, as payment processors say them (Stripe's
``expired_card`` and ``incorrect_cvc``): the customer can fix those. Every other decline reads
the same to the caller (the reason goes to the log by code only). Every decline counts towards
the limits below, and the store stops asking the gateway, before it is asked, when:

- the same card was declined ``DECLINES_PER_CARD`` times in the last day: the card is known by
  a keyed hash of its number (HMAC-SHA256 under a key derived from the master key), never by
  the number, so the table names no card to whoever reads the database;
- the store as a whole saw ``DECLINES_PER_HOUR`` declines in the last hour: a testing run
  spread over many addresses and cards (the per-address limit, store/app.py, is for one).

The counts live in the database (``card_declines``), so every store process shares them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from tollgate.crypto.kdf import hkdf
from tollgate.store.db import CardDecline
from tollgate.store.payments import CardDeclined, CardDetails, CardToken, Gateway
from tollgate.store.schemas import CardIn
from tollgate.store.services.errors import StoreError

log = logging.getLogger("tollgate.store")
DECLINED = "The card was declined. Check the details or use another card."
SAID_AS_SUCH = {
    "expired_card": "The card has expired: use another card, or its replacement's expiry date.",
    "incorrect_cvc": "The card's security code (CVC) is incorrect: check the digits on the card.",
}
DECLINES_PER_CARD = 3  # in a day
DECLINES_PER_HOUR = 100  # store-wide
_DAY, _HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


def card_fingerprint(master_key: bytes, number: str) -> str:
    """A keyed hash of the card number's digits: the same card always, no number in sight."""
    key = hkdf(master_key, purpose="card-fingerprint", parts=())
    digits = "".join(c for c in number if c.isdigit())
    return hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()


def check_card(
    sessions: sessionmaker[Session],
    gateway: Gateway,
    master_key: bytes,
    card: CardIn,
    *,
    purpose: str,
    now: dt.datetime,
) -> CardToken:
    """The gateway's token for a card it accepts, or ``card_declined`` (one message for every
    reason), or ``rate_limited`` while the store refuses new cards."""
    fingerprint = card_fingerprint(master_key, card.number)
    with sessions() as s:
        this_card = s.scalar(
            select(func.count(CardDecline.id)).where(
                CardDecline.fingerprint == fingerprint, CardDecline.declined_at > now - _DAY
            )
        )
        everyone = s.scalar(
            select(func.count(CardDecline.id)).where(CardDecline.declined_at > now - _HOUR)
        )
    if (this_card or 0) >= DECLINES_PER_CARD:
        log.info("%s refused: card declined %d times today", purpose, this_card)
        raise StoreError("card_declined", DECLINED)
    if (everyone or 0) >= DECLINES_PER_HOUR:
        log.warning("%s refused: %d declines store-wide in the last hour", purpose, everyone)
        raise StoreError("rate_limited", "the store takes no new cards for a while; try later")
    details = CardDetails(card.number, card.exp_month, card.exp_year, card.cvc)
    try:
        return gateway.verify_card(details)
    except CardDeclined as exc:
        log.info("%s declined: %s", purpose, exc.reason)
        with sessions.begin() as s:
            s.execute(delete(CardDecline).where(CardDecline.declined_at < now - _DAY))
            s.add(CardDecline(fingerprint=fingerprint, declined_at=now))
        if exc.reason in SAID_AS_SUCH:
            raise StoreError(exc.reason, SAID_AS_SUCH[exc.reason]) from exc
        raise StoreError("card_declined", DECLINED) from exc
