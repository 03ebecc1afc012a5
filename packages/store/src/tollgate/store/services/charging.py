"""One charge through the gateway, as orders and metered uses both make it: idempotent by key,
and checked on the answer (amount, currency and reference must be what was asked)."""

from __future__ import annotations

import logging

from tollgate.store.payments import Charge, Gateway, GatewayUnavailable, IdempotencyConflict
from tollgate.store.services.errors import StoreError

log = logging.getLogger("tollgate.store.charging")


def charge_once(
    gateway: Gateway,
    token: str,
    *,
    amount: int,
    currency: str,
    idempotency_key: str,
    reference: str,
) -> Charge:
    try:
        charge = gateway.charge(
            token,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
            reference=reference,
        )
    except GatewayUnavailable as exc:
        raise StoreError(
            "payment_unavailable", "the payment gateway did not answer; retry later"
        ) from exc
    except IdempotencyConflict as exc:
        raise StoreError("internal_error", "payment record conflict") from exc
    if (charge.amount, charge.currency, charge.reference) != (amount, currency, reference):
        log.error("gateway answered %s with other terms", reference)
        raise StoreError("internal_error", "the gateway's answer does not match the request")
    return charge
