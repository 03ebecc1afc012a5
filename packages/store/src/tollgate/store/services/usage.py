"""Metered uses (DESIGN.md section 5): each use event charged through the gateway at most once.

1. In one transaction, find the event by (customer, event id) or insert it: ``pending`` when
   the add-on is sold per use, ``recorded`` otherwise (a use counted, nothing charged). An
   event id sent again with other facts is refused, as a reused Idempotency-Key is.
2. A pending event is charged with ``use_<row id>/<attempt>`` as the gateway's idempotency key,
   so a crash, a retry or two clients sending the same queue lead to one charge; the outcome is
   set by compare-and-set on (status, attempt).
3. A declined event sent again starts a new attempt: the customer's card may work now.

An event carries its number among the uses of its licence (``seq``, runtime/meter.py). A number
already taken by another event means the client state was rolled back: the event is refused and
the customer's renewals are held until the vendor clears it (store/services/renewal.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tollgate.store.db import AddOn, Customer, Order, UsageEvent
from tollgate.store.payments import Gateway
from tollgate.store.schemas import UseIn
from tollgate.store.services.charging import charge_once
from tollgate.store.services.errors import StoreError
from tollgate.store.services.orders import rowcount
from tollgate.store.services.renewal import hold_renewals, order_stands


def _result(row: UsageEvent) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "charge_id": row.charge_id,
        "failure_code": row.failure_code,
    }


def _refused(event: UseIn, reason: str) -> dict[str, Any]:
    return {"event_id": event.event_id, "status": "refused", "failure_code": reason}


def _number_taken(s: Session, customer_id: str, event: UseIn) -> bool:
    taken = s.scalars(
        select(UsageEvent.id).where(
            UsageEvent.customer_id == customer_id,
            UsageEvent.order_id == event.order_id,
            UsageEvent.seq == event.seq,
        )
    )
    return taken.first() is not None


class UsageService:
    def __init__(
        self, sessions: sessionmaker[Session], gateway: Gateway, clock: Callable[[], dt.datetime]
    ) -> None:
        self._sessions, self._gateway, self._clock = sessions, gateway, clock

    def record(self, customer_id: str, events: list[UseIn]) -> list[dict[str, Any]]:
        return [self._one(customer_id, e) for e in events]

    def _one(self, customer_id: str, event: UseIn) -> dict[str, Any]:
        row = self._find_or_insert(customer_id, event)
        if isinstance(row, dict):
            return row
        if row.status == "pending":
            row = self._charge(row)
        return _result(row)

    def _find_or_insert(self, customer_id: str, event: UseIn) -> UsageEvent | dict[str, Any]:
        for _ in range(3):
            with self._sessions.begin() as s:
                row = s.scalars(
                    select(UsageEvent).where(
                        UsageEvent.customer_id == customer_id,
                        UsageEvent.event_id == event.event_id,
                    )
                ).one_or_none()
                if row is not None:
                    if (row.order_id, row.name) != (event.order_id, event.name):
                        return _refused(event, "event_id_reused")
                    if row.status == "declined":
                        self._retry(s, row)
                    s.expunge(row)
                    return row
                order = s.get(Order, event.order_id)
                if order is None or order.customer_id != customer_id:
                    return _refused(event, "unknown_order")
                if not order_stands(s, order):
                    return _refused(event, "refunded")
                if event.seq is not None and _number_taken(s, customer_id, event):
                    hold_renewals(
                        s,
                        customer_id,
                        f"use number {event.seq} of order {order.id} was sent again with "
                        "another use: the client state was restored from an older copy",
                    )
                    return _refused(event, "seq_reused")
                addon = s.get_one(AddOn, order.addon_id)
                per_use = int(addon.policy.get("per_use") or 0)
                row = UsageEvent(
                    customer_id=customer_id,
                    event_id=event.event_id,
                    order_id=order.id,
                    addon_id=addon.id,
                    name=event.name,
                    used_at=event.at,
                    received_at=self._clock(),
                    amount=per_use,
                    currency=addon.currency,
                    status="pending" if per_use else "recorded",
                    seq=event.seq,
                    attempt=1,
                )
                s.add(row)
                try:
                    s.flush()
                except DBIntegrityError:
                    s.rollback()
                    continue  # the same event arrived concurrently: read that one
                s.expunge(row)
                return row
        raise StoreError("order_in_progress", "the use is being recorded elsewhere; retry")

    def _retry(self, s: Session, row: UsageEvent) -> None:
        rowcount(
            s,
            update(UsageEvent)
            .where(
                UsageEvent.id == row.id,
                UsageEvent.status == "declined",
                UsageEvent.attempt == row.attempt,
            )
            .values(status="pending", attempt=row.attempt + 1, failure_code=None),
        )
        s.refresh(row)

    def _charge(self, row: UsageEvent) -> UsageEvent:
        with self._sessions() as s:
            token = s.get_one(Customer, row.customer_id).card_token
        reference = f"use_{row.id}"
        charge = charge_once(
            self._gateway,
            token,
            amount=row.amount,
            currency=row.currency,
            idempotency_key=f"{reference}/{row.attempt}",
            reference=reference,
        )
        with self._sessions.begin() as s:
            rowcount(
                s,
                update(UsageEvent)
                .where(
                    UsageEvent.id == row.id,
                    UsageEvent.status == "pending",
                    UsageEvent.attempt == row.attempt,
                )
                .values(
                    status="charged" if charge.succeeded else "declined",
                    charge_id=charge.id,
                    failure_code=charge.failure_code,
                ),
            )
            fresh = s.get_one(UsageEvent, row.id)
            s.expunge(fresh)
            return fresh
