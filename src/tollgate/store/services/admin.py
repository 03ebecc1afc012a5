"""What the vendor looks at: customers and sales; and stopping sales to a customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tollgate.store.db import AddOn, Customer, Order, Product, Release
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
        .where(Order.status == "paid")
        .order_by(Order.updated_at)
    ).all()
    return [
        {
            "order_id": o.id,
            "customer_id": o.customer_id,
            "product": product,
            "addon": addon,
            "version": version,
            "amount": o.amount,
            "currency": o.currency,
            "charge_id": o.charge_id,
            "upgrade_of": o.upgrade_of,  # a free update of a paid order to another release
            "paid_at": o.updated_at.isoformat(),
        }
        for o, addon, version, product in rows
    ]


def stop_selling(s: Session, customer_id: str) -> None:
    changed = s.execute(update(Customer).where(Customer.id == customer_id).values(status="stopped"))
    if not getattr(changed, "rowcount", 0):
        raise StoreError("unknown_customer", f"no customer {customer_id}")
