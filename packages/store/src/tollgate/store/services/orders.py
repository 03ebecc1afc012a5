"""The order flow (DESIGN.md section 5): charge exactly once, never deliver unpaid.

1. In one transaction, find or insert the order. The unique constraint on (customer, add-on
   release) makes a second order for the same thing find the first; the Idempotency-Key is
   scoped per customer and bound to a hash of the request, so reusing it for a different order
   is refused (422).
2. Charge the card token with ``<order id>/<attempt>`` as the gateway's idempotency key and
   check amount, currency and reference on the answer. Any worker that finds the order
   pending may (re)do this: the gateway returns the first charge, so a crash between the
   charge and step 3, a retry, or two concurrent requests all lead to one charge.
3. In one transaction, mark the order paid (compare-and-set on its status and attempt) and
   issue the licence. Whoever loses the compare-and-set reads the winner's licence.

A failed charge marks the order failed; the same Idempotency-Key replays that failure, a new
one (the customer trying again) starts a new attempt on the same order.

An answer says ``placed_earlier`` when this request charged nothing: it found the order paid
by an earlier request (another Idempotency-Key: the customer ran ``buy`` again, perhaps after
an interrupted one), or another request completed it first. The request that completes a
pending order (its compare-and-set in step 3 wins) is the one that charged, whoever created the
order. With ``upgrade`` a request never starts a charge: it finds a paid order, or makes a free
one for a revision paid for in another release, and refuses otherwise (a failed order, or one
still being paid, included). The client asks so to learn what the customer holds before it
asks them to pay.

Add-ons are sold by function and revision: a customer who paid for an add-on's revision gets the
same revision in any other release of the product as an order of amount 0 (``upgrade_of`` names
the paid order), with a licence of its own for that release.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Update, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tollgate.crypto import canonical
from tollgate.store.db import AddOn, Customer, Licence, Order, Product, Release
from tollgate.store.failpoints import failpoint
from tollgate.store.folder import StoreKeys
from tollgate.store.payments import Charge, Gateway
from tollgate.store.schemas import OrderRequest
from tollgate.store.services.charging import charge_once
from tollgate.store.services.errors import StoreError
from tollgate.store.services.licences import issue_licence

log = logging.getLogger("tollgate.store.orders")


@dataclass(frozen=True)
class OrderOutcome:
    order_id: str
    status: str
    amount: int
    currency: str
    charge_id: str | None
    licence: dict[str, Any] | None
    failure_code: str | None = None
    placed_earlier: bool = False  # found, not made, by this request: it charged nothing

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "charge_id": self.charge_id,
            "licence": self.licence,
            "placed_earlier": self.placed_earlier,
        }


def request_hash(order: OrderRequest) -> str:
    return hashlib.sha256(canonical.dumps(order.model_dump())).hexdigest()


def _find_addon(s: Session, order: OrderRequest) -> AddOn:
    addon = s.scalars(
        select(AddOn)
        .join(Release)
        .join(Product)
        .where(
            Product.name == order.product,
            Release.version == order.version,
            AddOn.name == order.addon,
        )
    ).one_or_none()
    if addon is None:
        raise StoreError(
            "not_found", f"{order.product} {order.version} has no add-on {order.addon!r}"
        )
    return addon


def _check_sale(addon: AddOn, customer: Customer) -> None:
    countries = addon.policy.get("countries")
    if countries:
        allowed = (
            customer.country in countries["allow"]
            if "allow" in countries
            else customer.country not in countries.get("deny", [])
        )
        if not allowed:
            raise StoreError(
                "not_for_sale", f"{addon.name} is not sold to customers in {customer.country}"
            )


def _os_release(addon: AddOn, order: OrderRequest) -> str:
    """The OS release an order is for: '' unless the add-on is sold per OS release."""
    if not addon.policy.get("os_release"):
        return ""
    if not order.os_release:
        raise StoreError(
            "os_release_required", f"{addon.name} is sold per OS release: name the buyer's"
        )
    return order.os_release


def _same_revision_bought(
    s: Session, customer_id: str, addon: AddOn, os_release: str
) -> str | None:
    """The paid order by which the customer already owns this add-on's function and revision
    (in another release of the product, on the same OS release), if any: a new release of what
    was bought is free; a new revision is a new purchase."""
    release = addon.release
    return s.scalars(
        select(Order.id)
        .join(AddOn, AddOn.id == Order.addon_id)
        .join(Release, Release.id == AddOn.release_id)
        .where(
            Order.customer_id == customer_id,
            Order.status == "paid",
            Release.product_id == release.product_id,
            AddOn.name == addon.name,
            AddOn.function == addon.function,
            AddOn.revision == addon.revision,
            Order.os_release == os_release,
        )
        .order_by(Order.created_at)
    ).first()


def rowcount(s: Session, statement: Update) -> int:
    """Rows an UPDATE changed: the compare-and-set result."""
    result = s.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class OrderService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        gateway: Gateway,
        keys: StoreKeys,
        store_id: str,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions, self._gateway, self._keys = sessions, gateway, keys
        self._store_id, self._clock = store_id, clock

    def place(self, customer_id: str, order: OrderRequest, idempotency_key: str) -> OrderOutcome:
        digest = request_hash(order)
        row, this_request = self._find_or_create(customer_id, order, idempotency_key, digest)
        failpoint("order.saved")
        if row.status == "pending":
            outcome, charged_here = self._complete(row)
            return dataclasses.replace(outcome, placed_earlier=not charged_here)
        return dataclasses.replace(self._outcome(row), placed_earlier=not this_request)

    def _find_or_create(
        self, customer_id: str, order: OrderRequest, idem: str, digest: str
    ) -> tuple[Order, bool]:
        """The order, and whether it is this request's own (made now, or found by this very
        Idempotency-Key) rather than one an earlier request placed."""
        for _ in range(3):
            with self._sessions.begin() as s:
                customer = s.get_one(Customer, customer_id)
                addon = _find_addon(s, order)
                _check_sale(addon, customer)
                os_release = _os_release(addon, order)
                existing = s.scalars(
                    select(Order).where(
                        Order.customer_id == customer_id,
                        or_(
                            Order.idempotency_key == idem,
                            (Order.addon_id == addon.id) & (Order.os_release == os_release),
                        ),
                    )
                ).all()
                same_key = [o for o in existing if o.idempotency_key == idem]
                if same_key:
                    if same_key[0].request_hash != digest:
                        raise StoreError(
                            "idempotency_key_reused",
                            "this Idempotency-Key was used for a different order",
                        )
                    return same_key[0], True
                if existing:
                    if order.upgrade and existing[0].status == "pending":
                        raise StoreError(  # the request that agreed to pay completes it
                            "order_in_progress",
                            "an order for this add-on is being paid; buy it to finish it",
                        )
                    if order.upgrade and existing[0].status == "failed":
                        raise StoreError(
                            "not_an_upgrade",
                            f"{order.product} {order.version} {addon.name}: the last attempt "
                            "to pay failed, so this customer does not hold it: buy it",
                        )
                    retried = existing[0].status == "failed"
                    return self._retry_if_failed(s, existing[0], idem, digest), retried
                bought = _same_revision_bought(s, customer_id, addon, os_release)
                if order.upgrade and bought is None:
                    raise StoreError(
                        "not_an_upgrade",
                        f"{order.product} {order.version} {addon.name} is revision "
                        f"{addon.revision}, which this customer has not bought: buy it",
                    )
                now = self._clock()
                row = Order(
                    id="ord_" + secrets.token_hex(12),
                    customer_id=customer_id,
                    addon_id=addon.id,
                    idempotency_key=idem,
                    request_hash=digest,
                    status="pending",
                    attempt=1,
                    amount=0 if bought else addon.price,
                    currency=addon.currency,
                    upgrade_of=bought,
                    os_release=os_release,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                try:
                    s.flush()
                except DBIntegrityError:
                    s.rollback()
                    continue  # a concurrent request inserted it: read theirs
                return row, True
        raise StoreError("order_in_progress", "the order is being created elsewhere; retry")

    def _retry_if_failed(self, s: Session, row: Order, idem: str, digest: str) -> Order:
        """Same add-on, new Idempotency-Key: a fresh attempt if the last one failed."""
        if row.status != "failed":
            return row
        changed = rowcount(
            s,
            update(Order)
            .where(Order.id == row.id, Order.status == "failed", Order.attempt == row.attempt)
            .values(
                status="pending",
                attempt=row.attempt + 1,
                idempotency_key=idem,
                request_hash=digest,
                failure_code=None,
                updated_at=self._clock(),
            ),
        )
        s.refresh(row)
        if not changed:
            log.info("order %s retried concurrently", row.id)
        return row

    def _charge(self, row: Order, token: str) -> Charge:
        return charge_once(
            self._gateway,
            token,
            amount=row.amount,
            currency=row.currency,
            idempotency_key=f"{row.id}/{row.attempt}",
            reference=row.id,
        )

    def _complete(self, row: Order) -> tuple[OrderOutcome, bool]:
        """Charge a pending order (the gateway returns an attempt's first charge) and settle it;
        also whether this call moved the money: the gateway made the charge for it rather than
        replaying one an earlier request made (which may have died before settling), or, for
        a free order, its compare-and-set settled it."""
        with self._sessions() as s:
            token = s.get_one(Customer, row.customer_id).card_token
        charge = self._charge(row, token) if row.amount > 0 else None
        failpoint("order.charged")
        now = self._clock()
        with self._sessions.begin() as s:
            status = "paid" if charge is None or charge.succeeded else "failed"
            won = rowcount(
                s,
                update(Order)
                .where(Order.id == row.id, Order.status == "pending", Order.attempt == row.attempt)
                .values(
                    status=status,
                    charge_id=charge.id if charge else None,
                    failure_code=None if charge is None else charge.failure_code,
                    updated_at=now,
                    paid_at=now if status == "paid" else None,
                ),
            )
            if won and status == "paid":
                fresh = s.get_one(Order, row.id)
                issue_licence(s, self._keys, store_id=self._store_id, order=fresh, now=now)
        failpoint("order.settled")
        charged_here = bool(won) if charge is None else not charge.replayed
        with self._sessions() as s:
            return self._outcome(s.get_one(Order, row.id)), charged_here

    def _outcome(self, row: Order) -> OrderOutcome:
        licence = None
        if row.status == "paid":
            with self._sessions() as s:
                lic = s.scalars(select(Licence).where(Licence.order_id == row.id)).one()
                licence = lic.document
        elif row.status == "failed":
            raise StoreError(
                "payment_failed",
                "the card was charged nothing: the payment was declined "
                f"({row.failure_code}). Update the card and try again.",
                order_id=row.id,
            )
        elif row.status == "refunded":
            raise StoreError(
                "refunded", "this purchase was refunded; the store will not sell it again"
            )
        return OrderOutcome(
            row.id, row.status, row.amount, row.currency, row.charge_id, licence, row.failure_code
        )

    def repair_pending(self, older_than: dt.timedelta = dt.timedelta(minutes=5)) -> int:
        """Finish orders left pending by a crash: ask the gateway, then complete or fail them.

        Never charges an order the gateway has not seen: that would charge a customer who
        may have given up. Such orders are marked failed and can be retried.
        """
        cutoff = self._clock() - older_than
        with self._sessions() as s:
            stale = s.scalars(
                select(Order).where(Order.status == "pending", Order.updated_at < cutoff)
            ).all()
        repaired = 0
        for row in stale:
            charge = self._gateway.find_charge(f"{row.id}/{row.attempt}")
            if charge is not None:
                try:
                    self._complete(row)  # the gateway returns the existing charge
                except StoreError as exc:  # a declined charge: recorded as failed
                    log.info("repaired order %s: %s", row.id, exc.code)
            else:
                with self._sessions.begin() as s:
                    s.execute(
                        update(Order)
                        .where(
                            Order.id == row.id,
                            Order.status == "pending",
                            Order.attempt == row.attempt,
                        )
                        .values(status="failed", failure_code="abandoned", updated_at=self._clock())
                    )
            repaired += 1
        return repaired
