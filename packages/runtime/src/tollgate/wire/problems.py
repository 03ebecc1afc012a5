"""Stable error codes shared by the store (RFC 9457 problem documents) and the client.

Every code maps to an HTTP status on the store and an exit status in the CLI, so a script can
tell "the store said no" (3) from "something failed to verify" (4) from "no answer" (5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Exit(IntEnum):
    """The ``tollgate`` command's exit statuses (the README's table)."""

    OK = 0
    USAGE = 2  # a wrong command, name, value or file; or this machine's fault (disk, folder)
    REFUSED = 3  # the store said no: declined card, stopped customer, not for sale
    INTEGRITY = 4  # something failed to verify: tampered file, wrong machine, bad signature
    UNREACHABLE = 5  # no store answers at the URL, or it failed to answer
    CANCELLED = 6  # you answered no: nothing was done
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells have it): what was done is said
    OUTPUT_CLOSED = 141  # the output was closed early (`| head`): 128 + SIGPIPE, quietly


@dataclass(frozen=True)
class Code:
    code: str
    status: int
    title: str
    exit: Exit


_CODES = [
    Code("malformed_request", 400, "The request is malformed", Exit.USAGE),
    Code("payload_too_large", 413, "The request body is too large", Exit.USAGE),
    Code(
        "unsupported_media_type", 415, "The request body is of a type not accepted here", Exit.USAGE
    ),
    Code("not_found", 404, "Not found", Exit.USAGE),
    Code("range_not_satisfiable", 416, "The range asked for is not in the file", Exit.USAGE),
    Code("method_not_allowed", 405, "Method not allowed", Exit.USAGE),
    Code("bad_signature", 401, "The request signature does not verify", Exit.INTEGRITY),
    Code("replayed_request", 401, "This signed request was already used", Exit.INTEGRITY),
    Code("unknown_customer", 401, "No such customer at this store", Exit.REFUSED),
    Code("customer_stopped", 403, "This store no longer sells to this customer", Exit.REFUSED),
    Code("not_entitled", 403, "This customer has not bought this file", Exit.REFUSED),
    Code("customer_id_taken", 409, "The customer id is taken", Exit.REFUSED),
    Code("card_declined", 402, "The card was declined", Exit.REFUSED),
    Code("expired_card", 402, "The card has expired", Exit.REFUSED),
    Code("incorrect_cvc", 402, "The card's security code (CVC) is incorrect", Exit.REFUSED),
    Code("payment_failed", 402, "The payment failed", Exit.REFUSED),
    Code("not_for_sale", 409, "This add-on is not for sale", Exit.REFUSED),
    Code("not_an_upgrade", 409, "This add-on is a new purchase, not an update", Exit.REFUSED),
    Code("refunded", 409, "This purchase was refunded", Exit.REFUSED),
    Code(
        "os_release_required",
        422,
        "This add-on is sold per OS release: the order must name it",
        Exit.USAGE,
    ),
    Code("idempotency_key_reused", 422, "Idempotency-Key reused for another request", Exit.REFUSED),
    Code("order_in_progress", 409, "The same order is still being processed", Exit.REFUSED),
    Code(
        "environment_unsupported",
        422,
        "The product has no files for this environment",
        Exit.REFUSED,
    ),
    Code("rate_limited", 429, "Too many requests", Exit.REFUSED),
    Code("wrong_store", 400, "The request was made for another store", Exit.REFUSED),
    Code("internal_error", 500, "The store failed to handle the request", Exit.UNREACHABLE),
    Code("payment_unavailable", 503, "The payment gateway cannot be reached", Exit.UNREACHABLE),
]
CODES: dict[str, Code] = {c.code: c for c in _CODES}

PROBLEM_TYPE_BASE = "https://tollgate.invalid/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_document(code: str, detail: str, **extra: object) -> dict[str, object]:
    spec = CODES[code]
    return {
        "type": PROBLEM_TYPE_BASE + code,
        "title": spec.title,
        "status": spec.status,
        "detail": detail,
        "code": code,
        **extra,
    }
