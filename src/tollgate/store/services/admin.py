"""What the vendor looks at: customers, sales and metered uses; refunds, and stopping sales
to a customer.

Refunds and stops reach a customer's machines when their licences are next renewed
(store/services/renewal.py), at the latest at ``renew_by``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tollgate.store.db import AddOn, Customer, Order, Product, Release, UsageEvent
from tollgate.store.payments import Gateway
from tollgate.store.services.errors import StoreError


def list_customers(s: Session) -> list[dict[str, Any]]:
    rows = s.scalars(select(Customer).order_by(Customer.registered_at)).all()
    return [
        {
            "customer_id": c.id,
            "name": c.name,
            "email": c.email,
            "country": c.country,
            "status": c.status,
            "card": f"{c.card_brand} ****{c.card_last4}",
            "registered_at": c.registered_at.isoformat(),
        }
        for c in rows
    ]


def list_sales(s: Session) -> list[dict[str, Any]]:
    rows = s.execute(
        select(Order, AddOn.name, Release.version, Product.name)
        .join(AddOn, Order.addon_id == AddOn.id)
        .join(Release)
        .join(Product)
        .where(Order.status.in_(("paid", "refunded")))
        .order_by(Order.updated_at)
    ).all()
    return [
        {
            "order_id": o.id,
            "customer_id": o.customer_id,
            "product": product,
            "addon": addon,
            "version": version,
            "status": o.status,
            "amount": o.amount,
            "currency": o.currency,
            "charge_id": o.charge_id,
            "upgrade_of": o.upgrade_of,  # a free update of a paid order to another release
            "paid_at": o.updated_at.isoformat(),
        }
        for o, addon, version, product in rows
    ]


def list_usage(s: Session) -> list[dict[str, Any]]:
    """Metered uses as the store received them, oldest first."""
    rows = s.execute(
        select(UsageEvent, AddOn.name, Product.name)
        .join(AddOn, UsageEvent.addon_id == AddOn.id)
        .join(Release)
        .join(Product)
        .order_by(UsageEvent.received_at, UsageEvent.id)
    ).all()
    return [
        {
            "event_id": u.event_id,
            "customer_id": u.customer_id,
            "product": product,
            "addon": addon,
            "name": u.name,
            "used_at": u.used_at.isoformat(),
            "status": u.status,
            "amount": u.amount,
            "currency": u.currency,
            "charge_id": u.charge_id,
        }
        for u, addon, product in rows
    ]


def stop_selling(s: Session, customer_id: str) -> None:
    changed = s.execute(update(Customer).where(Customer.id == customer_id).values(status="stopped"))
    if not getattr(changed, "rowcount", 0):
        raise StoreError("unknown_customer", f"no customer {customer_id}")


def refund_order(
    sessions: sessionmaker[Session], gateway: Gateway, order_id: str, now: dt.datetime
) -> dict[str, Any]:
    """Refund a paid order through the gateway, then mark it and its free updates refunded.
    Refunding again changes nothing."""
    with sessions() as s:
        order = s.get(Order, order_id)
        if order is None or order.status not in ("paid", "refunded"):
            raise StoreError("not_found", f"no paid order {order_id}")
        if order.upgrade_of:
            raise StoreError("not_found", f"{order_id} is a free update: refund {order.upgrade_of}")
        charge_id, amount, currency = order.charge_id, order.amount, order.currency
    if charge_id is not None:
        gateway.refund(charge_id)  # idempotent: a refunded charge stays refunded
    with sessions.begin() as s:
        s.execute(
            update(Order)
            .where((Order.id == order_id) | (Order.upgrade_of == order_id))
            .where(Order.status == "paid")
            .values(status="refunded", updated_at=now)
        )
    return {"order_id": order_id, "refunded": amount, "currency": currency, "charge_id": charge_id}
