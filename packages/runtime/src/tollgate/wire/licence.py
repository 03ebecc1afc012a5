"""The licence document: what the store signs and the runtime checks (docs/protocol.md).

A licence names store, customer, product, add-on and release, carries the policy and a lease
(store time, a per-customer counter, ``renew_by``), and lists for each covered file its
content key wrapped under KWK = HKDF(K, salt = licence id), the stream commitment and the
SHA-256 of the ciphertext. Signed with the store's licence key (Ed25519, RFC 8785).

The policy travels resolved: the store turns the vendor's "30 days from purchase" into a
``not_after`` instant and "bound to the OS release" into the release the order named, so the
runtime checks facts, never rules (runtime/policy.py).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tollgate.crypto import IntegrityError
from tollgate.crypto.documents import verify_document

LICENCE_TYPE = "licence"
LEASE = dt.timedelta(days=14)
MAX_TEXT = 1024  # any one text field of a licence


@dataclass(frozen=True)
class Policy:
    """What the runtime enforces. Every field ``None`` is a perpetual licence."""

    not_after: dt.datetime | None = None  # "until" and "days from purchase", the earlier
    hours: tuple[int, int] | None = None  # allowed local hours [start, end), may wrap midnight
    os_release: str | None = None  # the OS release the add-on was bought for
    uses: int | None = None  # uses allowed in all
    per_use: tuple[int, str] | None = None  # amount and currency charged per use
    offline_uses: int | None = None  # uses this machine may hold unsent (metered licences)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "not_after": None if self.not_after is None else self.not_after.isoformat(),
            "hours": None if self.hours is None else list(self.hours),
            "os_release": self.os_release,
            "uses": self.uses,
            "per_use": None
            if self.per_use is None
            else {"amount": self.per_use[0], "currency": self.per_use[1]},
        }
        if self.offline_uses is not None:  # only metered licences: older runtimes read the rest
            doc["offline_uses"] = self.offline_uses
        return doc

    @classmethod
    def from_json(cls, raw: Any) -> Policy:
        """Strict: a policy field this runtime does not know is refused, never ignored (an
        older runtime must not run an add-on under rules it cannot enforce). Raises only
        ValueError, naming the field."""
        if not isinstance(raw, dict):
            raise ValueError("policy must be an object")
        known = {"kind", "not_after", "hours", "os_release", "uses", "per_use", "offline_uses"}
        if set(raw) - known:
            raise ValueError(f"unknown policy fields {sorted(set(raw) - known)}")
        hours, per_use = raw.get("hours"), raw.get("per_use")
        not_after, os_release = raw.get("not_after"), raw.get("os_release")
        if hours is not None and not (
            isinstance(hours, list) and len(hours) == 2 and all(_is_int(h) for h in hours)
        ):
            raise ValueError("policy hours must be two whole hours [start, end]")
        if per_use is not None and not (
            isinstance(per_use, dict)
            and set(per_use) == {"amount", "currency"}
            and _is_int(per_use["amount"])
            and isinstance(per_use["currency"], str)
        ):
            raise ValueError("policy per_use must be {amount: whole number, currency: text}")
        if os_release is not None and not isinstance(os_release, str):
            raise ValueError("policy os_release must be text")
        policy = cls(
            not_after=None if not_after is None else _instant(not_after),
            hours=None if hours is None else (hours[0], hours[1]),
            os_release=os_release,
            uses=_optional_int(raw, "uses"),
            per_use=None if per_use is None else (per_use["amount"], per_use["currency"]),
            offline_uses=_optional_int(raw, "offline_uses"),
        )
        if policy.hours is not None and not all(0 <= h <= 23 for h in policy.hours):
            raise ValueError("policy hours must be within 0..23")
        return policy


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_int(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is not None and not _is_int(value):
        raise ValueError(f"policy {key} must be a whole number")
    return value


def _instant(text: Any) -> dt.datetime:
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValueError("an instant must be an ISO 8601 date-time")
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return value


@dataclass(frozen=True)
class LicensedFile:
    path: str
    stream_id: str
    digest: str
    size: int
    commitment: bytes
    wrapped_key: bytes


@dataclass(frozen=True)
class Licence:
    licence_id: str
    store_id: str
    customer_id: str
    product: str
    addon: str
    version: str
    order_id: str
    policy: Policy
    issued_at: dt.datetime
    renew_by: dt.datetime
    counter: int
    files: list[LicensedFile]


def licence_body(
    *,
    licence_id: str,
    store_id: str,
    customer_id: str,
    product: str,
    addon: str,
    function: str,
    revision: int,
    version: str,
    order_id: str,
    policy: Policy,
    issued_at: dt.datetime,
    counter: int,
    files: list[LicensedFile],
    lease: dt.timedelta = LEASE,
) -> dict[str, Any]:
    return {
        "type": LICENCE_TYPE,
        "format": 1,
        "licence_id": licence_id,
        "store_id": store_id,
        "customer_id": customer_id,
        "product": product,
        "addon": addon,
        "function": function,
        "revision": revision,
        "version": version,
        "order_id": order_id,
        "policy": policy.to_json(),
        "issued_at": issued_at.isoformat(),
        "renew_by": (issued_at + lease).isoformat(),
        "counter": counter,
        "files": [
            {
                "path": f.path,
                "stream_id": f.stream_id,
                "digest": f.digest,
                "size": f.size,
                "commitment": base64.b64encode(f.commitment).decode(),
                "wrapped_key": base64.b64encode(f.wrapped_key).decode(),
            }
            for f in files
        ],
    }


def parse_licence(
    envelope: Any, licence_key: Ed25519PublicKey, *, store_id: str, customer_id: str
) -> Licence:
    """Verify the signature and that the licence is this store's and this customer's."""
    body = verify_document(envelope, licence_key)
    try:
        if body.get("type") != LICENCE_TYPE or not _is_int(body.get("format")):
            raise IntegrityError("not a licence")
        if body["format"] != 1:
            raise IntegrityError(f"licence format {body['format']} is not 1")
        if body.get("store_id") != store_id:
            raise IntegrityError("licence belongs to another store")
        if body.get("customer_id") != customer_id:
            raise IntegrityError("licence belongs to another customer")
        files = body.get("files")
        if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
            raise ValueError("files must be a list of objects")
        return Licence(
            licence_id=_text(body, "licence_id"),
            store_id=store_id,
            customer_id=customer_id,
            product=_text(body, "product"),
            addon=_text(body, "addon"),
            version=_text(body, "version"),
            order_id=_text(body, "order_id"),
            policy=Policy.from_json(body.get("policy")),
            issued_at=_instant(body.get("issued_at")),
            renew_by=_instant(body.get("renew_by")),
            counter=_whole(body, "counter"),
            files=[_licensed_file(f) for f in files],
        )
    except ValueError as exc:  # binascii.Error and datetime's own errors are ValueErrors too
        raise IntegrityError(f"licence is malformed: {exc}") from exc


def _licensed_file(raw: dict[str, Any]) -> LicensedFile:
    return LicensedFile(
        _text(raw, "path"),
        _text(raw, "stream_id"),
        _text(raw, "digest"),
        _whole(raw, "size"),
        base64.b64decode(_text(raw, "commitment"), validate=True),
        base64.b64decode(_text(raw, "wrapped_key"), validate=True),
    )


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise ValueError(f"{key} must be text of 1 to {MAX_TEXT} characters")
    return value


def _whole(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0")
    return value
