"""Renewing leases (DESIGN.md section 4): the client sends the orders it holds licences for and
its meter, and gets each licence re-signed with a new lease, told that the order no longer
stands, or told why the store holds it.

An order stands while it is paid and, for a free update of a paid order, while that paid order
is too. A refunded order is answered ``revoked``: the client removes the add-on, so a refund
reaches a machine at its next renewal (and, offline, at ``renew_by`` at the latest). A stopped
customer's signed requests are refused before they get here (store/auth.py).

A standing order is still not renewed (``held``; the client keeps the licence it has until its
``renew_by``) while:

- one of its uses stands declined: the card must work first (``payment_declined``);
- the customer's renewals are held (``meter_mismatch``) because the client's meter
  (runtime/meter.py) does not add up: its generation is lower than one a renewal already
  declared, or it has none when one was declared (a client state restored from a copy, or
  removed); it counts uses for an order that never reached the store (deleted before they
  were sent: each missing number is recorded as a ``missing`` use for the vendor to see); it
  counts fewer uses than the store has received; or a use number came twice (usage.py). Only
  the vendor clears such a hold (`tollgate store clear-hold`), after hearing the customer.

The answer carries the meter as the store now knows it (generation, and per order the next use
number it expects), from which the client raises its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tollgate.store.db import AddOn, Customer, Licence, Order, UsageEvent
from tollgate.store.folder import StoreKeys
from tollgate.store.schemas import MeterIn
from tollgate.store.services.licences import renew_licence

MAX_MISSING = 1000


def order_stands(s: Session, order: Order) -> bool:
    """Paid, and for a free update of a paid order, that order paid too (not refunded)."""
    if order.status != "paid":
        return False
    paid = s.get(Order, order.upgrade_of) if order.upgrade_of else order
    return paid is not None and paid.status == "paid"


def hold_renewals(s: Session, customer_id: str, reason: str) -> None:
    """Refuse the customer's renewals, saying why, until the vendor clears it (the first
    reason found is kept)."""
    customer = s.get_one(Customer, customer_id)
    if customer.renewal_hold is None:
        customer.renewal_hold = reason[:500]


def _expected_next(s: Session, customer_id: str, order_id: str) -> int:
    """The next use number of an order, as far as the store has received them."""
    top = s.scalar(
        select(func.max(UsageEvent.seq)).where(
            UsageEvent.customer_id == customer_id, UsageEvent.order_id == order_id
        )
    )
    return 0 if top is None else int(top) + 1


def _record_missing(s: Session, order: Order, declared: int, now: dt.datetime) -> list[int]:
    """Mark every number below ``declared`` that never arrived as a ``missing`` use (at most
    ``MAX_MISSING`` of them: a count beyond that is no honest meter, and is only held)."""
    have = set(
        s.scalars(
            select(UsageEvent.seq).where(
                UsageEvent.customer_id == order.customer_id,
                UsageEvent.order_id == order.id,
                UsageEvent.seq.is_not(None),
            )
        )
    )
    if declared > len(have) + MAX_MISSING:
        return [declared - 1]  # held; nothing recorded
    missing = [n for n in range(declared) if n not in have]
    addon = s.get_one(AddOn, order.addon_id)
    for seq in missing:
        s.add(
            UsageEvent(
                customer_id=order.customer_id,
                event_id=f"missing_{order.id}_{seq}"[:64],
                order_id=order.id,
                addon_id=order.addon_id,
                name="(never sent)",
                used_at=now,
                received_at=now,
                amount=int(addon.policy.get("per_use") or 0),  # owed, never charged
                currency=addon.currency,
                status="missing",
                seq=seq,
                attempt=0,
            )
        )
    return missing


def _is_metered(s: Session, order: Order) -> bool:
    policy = s.get_one(AddOn, order.addon_id).policy
    return bool(policy.get("uses") or policy.get("per_use"))


def _check_meter(
    s: Session, customer: Customer, meter: MeterIn | None, orders: list[Order], now: dt.datetime
) -> None:
    """Hold the customer's renewals if the declared meter does not add up. The first licence
    makes the store expect a meter (store/services/licences.py), so a meter removed before
    any renewal is noticed too. A machine declaring no meter is held only when it holds a
    metered licence (``uses`` or ``per_use``): a client state lost with only perpetual or
    time-limited licences (a damaged disk, reinstalled) has nothing to count."""
    known = customer.meter_generation
    metered = any(_is_metered(s, order) for order in orders)
    if meter is None and not metered:
        return  # a state lost with only unmetered licences: nothing to count, nothing to hold
    if known > 0 and (meter is None or meter.generation < known):
        shown = "none" if meter is None else f"generation {meter.generation}"
        hold_renewals(
            s,
            customer.id,
            f"this machine's meter ({shown}) is older than one it already showed the "
            f"store (generation {known}): its client state was restored from a copy or "
            "removed",
        )
        return
    customer.meter_generation = max(known, 1, 0 if meter is None else meter.generation)
    if meter is None:
        return
    for order in orders:
        declared = meter.uses.get(order.id, 0)
        expected = _expected_next(s, customer.id, order.id)
        if declared < expected:
            hold_renewals(
                s,
                customer.id,
                f"this machine counts {declared} use(s) of order {order.id}; the store has "
                f"received {expected}: its client state was restored from an older copy",
            )
        missing = _record_missing(s, order, declared, now)
        if missing:
            hold_renewals(
                s,
                customer.id,
                f"{len(missing)} use(s) of order {order.id} counted on this machine never "
                "reached the store (removed from its client state before they were sent)",
            )


def renew_leases(
    s: Session,
    keys: StoreKeys,
    *,
    store_id: str,
    customer_id: str,
    order_ids: list[str],
    meter: MeterIn | None,
    now: dt.datetime,
) -> dict[str, Any]:
    licences: list[dict[str, Any]] = []
    revoked: list[dict[str, str]] = []
    held: list[dict[str, str]] = []
    standing: list[tuple[Order, Licence]] = []
    customer = s.get_one(Customer, customer_id)
    for order_id in dict.fromkeys(order_ids):
        order = s.get(Order, order_id)
        licence = s.scalars(select(Licence).where(Licence.order_id == order_id)).one_or_none()
        if order is None or order.customer_id != customer_id or licence is None:
            revoked.append({"order_id": order_id, "reason": "unknown"})
        elif not order_stands(s, order):
            revoked.append({"order_id": order_id, "reason": "refunded"})
        else:
            standing.append((order, licence))
    _check_meter(s, customer, meter, [order for order, _ in standing], now)
    for order, licence in standing:
        declined = s.scalar(
            select(func.count(UsageEvent.id)).where(
                UsageEvent.order_id == order.id, UsageEvent.status == "declined"
            )
        )
        if customer.renewal_hold is not None:
            held.append(
                {"order_id": order.id, "reason": "meter_mismatch", "detail": customer.renewal_hold}
            )
        elif declined:
            held.append(
                {
                    "order_id": order.id,
                    "reason": "payment_declined",
                    "detail": f"{declined} use(s) could not be charged: update the card with "
                    "`tollgate card`, then run `tollgate sync`",
                }
            )
        else:
            renew_licence(s, keys, store_id=store_id, licence=licence, now=now)
            licences.append(licence.document)
    return {
        "store_time": now.isoformat(),
        "licences": licences,
        "revoked": revoked,
        "held": held,
        "meter": {
            "generation": customer.meter_generation,
            "uses": {o.id: _expected_next(s, customer_id, o.id) for o, _ in standing},
        },
    }
