"""Issuing and renewing licences: a few hundred bytes of per-customer work, whatever the
add-on's size.

A licence is a lease (DESIGN.md section 4): it carries the store's time and ``renew_by``, and
the client renews it while online. Renewing re-signs the same licence (same id, so the same
wrapped keys) with a new time and counter; a refunded order or a stopped customer gets no
renewal, which is how a refund reaches a machine.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tollgate.crypto.documents import sign_document
from tollgate.crypto.keys import licence_wrapping_key, open_secret, wrap_content_key
from tollgate.store.db import AddOn, Customer, Licence, Order, ReleasedFile
from tollgate.store.folder import StoreKeys
from tollgate.wire.licence import LicensedFile, Policy, licence_body

# Uses a machine may make before the store must hear of them, unless the vendor says otherwise
# (``offline_uses`` in the policy): what a rolled-back client folder can win, at most, per
# rollback (docs/protocol.md "What an attacker tries").
OFFLINE_USES = 20


def resolve_policy(addon: AddOn, *, bought_at: dt.datetime, os_release: str) -> Policy:
    """The vendor's rules (store/manifest.py) turned into facts the runtime can check."""
    rules = addon.policy
    metered = bool(rules.get("uses") or rules.get("per_use"))
    ends = []
    if rules.get("until"):
        ends.append(dt.datetime.fromisoformat(rules["until"]))
    if rules.get("days"):
        ends.append(bought_at + dt.timedelta(days=int(rules["days"])))
    hours = rules.get("hours")
    return Policy(
        not_after=min(ends) if ends else None,
        hours=None if hours is None else (int(hours[0]), int(hours[1])),
        os_release=os_release if rules.get("os_release") else None,
        uses=rules.get("uses"),
        per_use=(int(rules["per_use"]), addon.currency) if rules.get("per_use") else None,
        offline_uses=int(rules.get("offline_uses") or OFFLINE_USES) if metered else None,
    )


def _next_counter(s: Session, customer_id: str) -> int:
    """The per-customer counter that only goes up: a later licence always has a larger one."""
    return int(
        s.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(licence_counter=Customer.licence_counter + 1)
            .returning(Customer.licence_counter)
        ).scalar_one()
    )


def _bought_at(s: Session, order: Order) -> dt.datetime:
    """When the customer paid: a free update of a paid order counts from the paid order."""
    paid = s.get(Order, order.upgrade_of) if order.upgrade_of else None
    return (paid or order).created_at


def _document(
    s: Session,
    keys: StoreKeys,
    *,
    store_id: str,
    order: Order,
    licence_id: str,
    counter: int,
    now: dt.datetime,
) -> dict[str, Any]:
    addon = s.get_one(AddOn, order.addon_id)
    release = addon.release
    customer_key = open_secret(
        keys.master,
        "customer-key",
        order.customer_id,
        s.get_one(Customer, order.customer_id).key_sealed,
    )
    kwk = licence_wrapping_key(customer_key, store_id, order.customer_id, licence_id)
    files = s.scalars(
        select(ReleasedFile)
        .where(ReleasedFile.release_id == release.id, ReleasedFile.addon_name == addon.name)
        .order_by(ReleasedFile.path)
    ).all()
    licensed = [
        LicensedFile(
            f.path,
            f.stream_id,
            f.digest,
            f.size,
            f.commitment or b"",
            wrap_content_key(
                kwk, open_secret(keys.master, "content-key", f.stream_id, f.content_key_sealed)
            ),
        )
        for f in files
        if f.encrypted and f.stream_id is not None and f.content_key_sealed is not None
    ]
    body = licence_body(
        licence_id=licence_id,
        store_id=store_id,
        customer_id=order.customer_id,
        product=release.product.name,
        addon=addon.name,
        function=addon.function,
        revision=addon.revision,
        version=release.version,
        order_id=order.id,
        policy=resolve_policy(addon, bought_at=_bought_at(s, order), os_release=order.os_release),
        issued_at=now,
        counter=counter,
        files=licensed,
    )
    return sign_document(body, keys.licence)


def issue_licence(
    s: Session, keys: StoreKeys, *, store_id: str, order: Order, now: dt.datetime
) -> Licence:
    """Create the licence for a paid order inside the caller's transaction. From the first
    licence on, the store expects the customer's machine to declare a meter at each renewal
    (the download program starts one with the purchase: client/meter.py)."""
    s.execute(
        update(Customer)
        .where(Customer.id == order.customer_id, Customer.meter_generation == 0)
        .values(meter_generation=1)
    )
    licence_id = "lic_" + secrets.token_hex(12)
    counter = _next_counter(s, order.customer_id)
    licence = Licence(
        id=licence_id,
        order_id=order.id,
        customer_id=order.customer_id,
        addon_id=order.addon_id,
        counter=counter,
        issued_at=now,
        document=_document(
            s, keys, store_id=store_id, order=order, licence_id=licence_id, counter=counter, now=now
        ),
    )
    s.add(licence)
    return licence


def renew_licence(
    s: Session, keys: StoreKeys, *, store_id: str, licence: Licence, now: dt.datetime
) -> Licence:
    """Re-sign a licence with a new lease inside the caller's transaction."""
    counter = _next_counter(s, licence.customer_id)
    licence.counter, licence.issued_at = counter, now
    licence.document = _document(
        s,
        keys,
        store_id=store_id,
        order=s.get_one(Order, licence.order_id),
        licence_id=licence.id,
        counter=counter,
        now=now,
    )
    return licence
