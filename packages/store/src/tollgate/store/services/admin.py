"""What the vendor looks at: customers, sales and metered uses; refunds, and stopping sales
to a customer.

Refunds and stops reach a customer's machines when their licences are next renewed
(store/services/renewal.py), at the latest at ``renew_by``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tollgate.store.db import AddOn, Customer, Order, Product, Release, UsageEvent
from tollgate.store.payments import Gateway
from tollgate.store.services.errors import StoreError
from tollgate.wire.addons import format_amount


def customer_state(c: Customer, today: dt.date) -> str:
    """active; stopped (id kept, all else erased); or card expired (the key still works, and
    the customer can register a new card with `tollgate card`)."""
    if c.status != "active":
        return c.status
    if c.renewal_hold is not None:
        return "renewals held"
    if (c.card_exp_year, c.card_exp_month) < (today.year, today.month):
        return "card expired"
    return "active"


def list_customers(s: Session, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Customers with what may be shown of them: never more of a card than its brand, last
    four digits and expiry."""
    today = today or dt.datetime.now(dt.UTC).date()
    rows = s.scalars(select(Customer).order_by(Customer.registered_at)).all()
    return [
        {
            "customer_id": c.id,
            "name": c.name,
            "email": c.email,
            "country": c.country,
            "status": customer_state(c, today),  # active, renewals held, card expired, stopped
            "stopped": c.status == "stopped",
            "card": f"{c.card_brand} ****{c.card_last4}" if c.card_last4 else "",
            "card_expiry": f"{c.card_exp_month:02d}/{c.card_exp_year % 100:02d}"
            if c.card_exp_year
            else "",
            "registered_at": c.registered_at.isoformat(),
            "renewal_hold": c.renewal_hold,
        }
        for c in rows
    ]


def find_customer(s: Session, customer_id: str) -> dict[str, Any] | None:
    """One customer as `list_customers` shows them (what a confirmation names)."""
    return next((c for c in list_customers(s) if c["customer_id"] == customer_id), None)


def what_stopping_takes(s: Session, customer_id: str) -> str:
    """What a stop does to a customer's purchases, in words, for the question asked first."""
    paid = [o for o in list_sales(s) if o["customer_id"] == customer_id and o["status"] == "paid"]
    if not paid:
        return "They have no paid orders."
    total = Revenue()
    for o in paid:
        total = total.add(o["currency"], o["amount"])
    return (
        f"Their machines drop the {len(paid)} add-on(s) they paid for ({total.text()}) at the "
        "next renewal, and nothing is refunded: refund those orders first if that is owed."
    )


def find_sale(s: Session, order_id: str) -> dict[str, Any] | None:
    """One paid or refunded order as `list_sales` shows it."""
    found = list_sales(s, order_id)
    return found[0] if found else None


def list_sales(s: Session, order_id: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(Order, AddOn.name, Release.version, Product.name)
        .join(AddOn, Order.addon_id == AddOn.id)
        .join(Release)
        .join(Product)
        .where(Order.status.in_(("paid", "refunded")))
        .order_by(func.coalesce(Order.paid_at, Order.updated_at), Order.id)
    )
    if order_id is not None:
        query = query.where(Order.id == order_id)
    rows = s.execute(query).all()
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
            "paid_at": (o.paid_at or o.updated_at).isoformat(),
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


def clear_hold(s: Session, customer_id: str) -> str | None:
    """Renew the customer's licences again after a meter that did not add up was explained
    (store/services/renewal.py); returns the reason that was held, None if there was none.
    The next meter the customer's machine declares is taken as it is: uses found missing stay
    on record as ``missing``."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise StoreError("unknown_customer", f"no customer {customer_id}")
    reason, customer.renewal_hold, customer.meter_generation = customer.renewal_hold, None, 0
    return reason


def stop_selling(s: Session, customer_id: str) -> bool:
    """Stop selling to a customer: the id is kept (their orders still name it), everything else
    is erased: name, email, country, their keys and their card. Their signed requests are
    refused from now on, so their machines drop the licences at the next renewal. False when
    they were stopped already (nothing changes)."""
    customer = s.get(Customer, customer_id)
    if customer is None:
        raise StoreError("unknown_customer", f"no customer {customer_id}")
    if customer.status == "stopped":
        return False
    changed = s.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(
            status="stopped",
            name="",
            email="",
            country="",
            key_sealed=b"",
            purchase_key_sealed=b"",
            card_token="",
            card_brand="",
            card_last4="",
            card_exp_month=0,
            card_exp_year=0,
        )
    )
    if not getattr(changed, "rowcount", 0):
        raise StoreError("unknown_customer", f"no customer {customer_id}")
    return True


@dataclass(frozen=True)
class Revenue:
    """Money taken, per currency (minor units), and how many sales or uses made it."""

    count: int = 0
    amounts: tuple[tuple[str, int], ...] = ()

    def add(self, currency: str, amount: int) -> Revenue:
        totals = dict(self.amounts)
        totals[currency] = totals.get(currency, 0) + amount
        return Revenue(self.count + 1, tuple(sorted(totals.items())))

    def text(self) -> str:
        shown = (format_amount(amount, currency) for currency, amount in self.amounts)
        return ", ".join(shown) or "0"


@dataclass(frozen=True)
class SalesReport:
    total: Revenue
    refunded: Revenue
    per_product: list[tuple[str, str, Revenue]]  # product, add-on, revenue
    per_day: list[tuple[dt.date, Revenue]]  # the last ``days`` days, oldest first


def sales_report(s: Session, today: dt.date, days: int = 30) -> SalesReport:
    """Purchases and charged metered uses: in total, per product and add-on, and per day."""
    first = today - dt.timedelta(days=days - 1)
    total, refunded = Revenue(), Revenue()
    per_product: dict[tuple[str, str], Revenue] = {}
    per_day = {first + dt.timedelta(days=i): Revenue() for i in range(days)}

    def count(product: str, addon: str, when: dt.datetime, currency: str, amount: int) -> None:
        nonlocal total
        total = total.add(currency, amount)
        key = (product, addon)
        per_product[key] = per_product.get(key, Revenue()).add(currency, amount)
        if when.date() in per_day:
            per_day[when.date()] = per_day[when.date()].add(currency, amount)

    for sale in list_sales(s):
        if sale["status"] == "refunded":
            refunded = refunded.add(sale["currency"], sale["amount"])
        elif not sale["upgrade_of"]:
            paid_at = dt.datetime.fromisoformat(sale["paid_at"])
            count(sale["product"], sale["addon"], paid_at, sale["currency"], sale["amount"])
    for use in list_usage(s):
        if use["status"] == "charged":
            used_at = dt.datetime.fromisoformat(use["used_at"])
            count(use["product"], use["addon"], used_at, use["currency"], use["amount"])
    return SalesReport(
        total,
        refunded,
        [(p, a, r) for (p, a), r in sorted(per_product.items())],
        sorted(per_day.items()),
    )


def refund_order(
    sessions: sessionmaker[Session], gateway: Gateway, order_id: str, now: dt.datetime
) -> dict[str, Any]:
    """Refund a paid order through the gateway, then mark it and its free updates refunded.
    Refunding again changes nothing, and says so (``already_refunded``)."""
    with sessions() as s:
        order = s.get(Order, order_id)
        if order is None or order.status not in ("paid", "refunded"):
            raise StoreError("not_found", f"no paid order {order_id}")
        if order.upgrade_of:
            raise StoreError("not_found", f"{order_id} is a free update: refund {order.upgrade_of}")
        charge_id, amount, currency = order.charge_id, order.amount, order.currency
        already = order.status == "refunded"
    result = {
        "order_id": order_id,
        "refunded": amount,
        "currency": currency,
        "charge_id": charge_id,
        "already_refunded": already,
    }
    if already:
        return result
    if charge_id is not None:
        gateway.refund(charge_id)  # idempotent: a refunded charge stays refunded
    with sessions.begin() as s:
        refunded_here = s.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == "paid")
            .values(status="refunded", updated_at=now)
        )
        s.execute(
            update(Order)
            .where(Order.upgrade_of == order_id, Order.status == "paid")
            .values(status="refunded", updated_at=now)
        )
    # Two refunds at once: the gateway refunds once; the one whose update lost says "already".
    return {**result, "already_refunded": not getattr(refunded_here, "rowcount", 0)}
