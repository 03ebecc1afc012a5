"""Renewing leases (DESIGN.md section 4): the client sends the orders it holds licences for and
gets each licence re-signed with a new lease, or told that the order no longer stands.

An order stands while it is paid and, for a free update of a paid order, while that paid order
is too. A refunded order is answered ``revoked``: the client removes the add-on, so a refund
reaches a machine at its next renewal (and, offline, at ``renew_by`` at the latest). A stopped
customer's signed requests are refused before they get here (store/auth.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.store.db import Licence, Order
from tollgate.store.folder import StoreKeys
from tollgate.store.services.licences import renew_licence


def order_stands(s: Session, order: Order) -> bool:
    """Paid, and for a free update of a paid order, that order paid too (not refunded)."""
    if order.status != "paid":
        return False
    paid = s.get(Order, order.upgrade_of) if order.upgrade_of else order
    return paid is not None and paid.status == "paid"


def renew_leases(
    s: Session,
    keys: StoreKeys,
    *,
    store_id: str,
    customer_id: str,
    order_ids: list[str],
    now: dt.datetime,
) -> dict[str, Any]:
    licences: list[dict[str, Any]] = []
    revoked: list[dict[str, str]] = []
    for order_id in dict.fromkeys(order_ids):
        order = s.get(Order, order_id)
        licence = s.scalars(select(Licence).where(Licence.order_id == order_id)).one_or_none()
        if order is None or order.customer_id != customer_id or licence is None:
            revoked.append({"order_id": order_id, "reason": "unknown"})
        elif not order_stands(s, order):
            revoked.append({"order_id": order_id, "reason": "refunded"})
        else:
            renew_licence(s, keys, store_id=store_id, licence=licence, now=now)
            licences.append(licence.document)
    return {"store_time": now.isoformat(), "licences": licences, "revoked": revoked}
