"""Issuing licences: a few hundred bytes of per-customer work, whatever the add-on's size."""

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
from tollgate.wire.licence import LicensedFile, licence_body


def issue_licence(
    s: Session, keys: StoreKeys, *, store_id: str, order: Order, now: dt.datetime
) -> Licence:
    """Create the licence for a paid order inside the caller's transaction."""
    addon = s.get_one(AddOn, order.addon_id)
    release = addon.release
    counter = s.execute(
        update(Customer)
        .where(Customer.id == order.customer_id)
        .values(licence_counter=Customer.licence_counter + 1)
        .returning(Customer.licence_counter)
    ).scalar_one()
    customer = s.get_one(Customer, order.customer_id)
    customer_key = open_secret(keys.master, "customer-key", customer.id, customer.key_sealed)
    licence_id = "lic_" + secrets.token_hex(12)
    kwk = licence_wrapping_key(customer_key, store_id, customer.id, licence_id)
    files = s.scalars(
        select(ReleasedFile)
        .where(ReleasedFile.release_id == release.id, ReleasedFile.addon_name == addon.name)
        .order_by(ReleasedFile.path)
    ).all()
    licensed: list[LicensedFile] = []
    for f in files:
        if not f.encrypted or f.stream_id is None or f.content_key_sealed is None:
            continue
        content_key = open_secret(keys.master, "content-key", f.stream_id, f.content_key_sealed)
        licensed.append(
            LicensedFile(
                f.path,
                f.stream_id,
                f.digest,
                f.size,
                f.commitment or b"",
                wrap_content_key(kwk, content_key),
            )
        )
    policy: dict[str, Any] = {"kind": addon.policy.get("kind", "perpetual")}
    body = licence_body(
        licence_id=licence_id,
        store_id=store_id,
        customer_id=customer.id,
        product=release.product.name,
        addon=addon.name,
        function=addon.function,
        revision=addon.revision,
        version=release.version,
        order_id=order.id,
        policy=policy,
        issued_at=now,
        counter=counter,
        files=licensed,
    )
    licence = Licence(
        id=licence_id,
        order_id=order.id,
        customer_id=customer.id,
        addon_id=addon.id,
        counter=counter,
        issued_at=now,
        document=sign_document(body, keys.licence),
    )
    s.add(licence)
    return licence
