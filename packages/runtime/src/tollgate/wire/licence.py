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
        older runtime must not run an add-on under rules it cannot enforce)."""
        if not isinstance(raw, dict):
            raise ValueError("policy must be an object")
        known = {"kind", "not_after", "hours", "os_release", "uses", "per_use", "offline_uses"}
        if set(raw) - known:
            raise ValueError(f"unknown policy fields {sorted(set(raw) - known)}")
        hours = raw.get("hours")
        per_use = raw.get("per_use")
        not_after = raw.get("not_after")
        policy = cls(
            not_after=None if not_after is None else _instant(not_after),
            hours=None if hours is None else (int(hours[0]), int(hours[1])),
            os_release=None if raw.get("os_release") is None else str(raw["os_release"]),
            uses=None if raw.get("uses") is None else int(raw["uses"]),
            per_use=None if per_use is None else (int(per_use["amount"]), str(per_use["currency"])),
            offline_uses=None if raw.get("offline_uses") is None else int(raw["offline_uses"]),
        )
        if policy.hours is not None and not all(0 <= h <= 23 for h in policy.hours):
            raise ValueError("policy hours must be within 0..23")
        return policy


def _instant(text: Any) -> dt.datetime:
    value = dt.datetime.fromisoformat(str(text))
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
        if body["type"] != LICENCE_TYPE or body["format"] != 1:
            raise IntegrityError("not a licence")
        if body["store_id"] != store_id:
            raise IntegrityError("licence belongs to another store")
        if body["customer_id"] != customer_id:
            raise IntegrityError("licence belongs to another customer")
        files = [
            LicensedFile(
                str(f["path"]),
                str(f["stream_id"]),
                str(f["digest"]),
                int(f["size"]),
                base64.b64decode(f["commitment"]),
                base64.b64decode(f["wrapped_key"]),
            )
            for f in body["files"]
        ]
        return Licence(
            licence_id=str(body["licence_id"]),
            store_id=store_id,
            customer_id=customer_id,
            product=str(body["product"]),
            addon=str(body["addon"]),
            version=str(body["version"]),
            order_id=str(body["order_id"]),
            policy=Policy.from_json(body["policy"]),
            issued_at=_instant(body["issued_at"]),
            renew_by=_instant(body["renew_by"]),
            counter=int(body["counter"]),
            files=files,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise IntegrityError(f"licence is malformed: {exc}") from exc
