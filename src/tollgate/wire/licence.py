"""The licence document: what the store signs and the runtime checks (docs/protocol.md).

A licence names store, customer, product, add-on and release, carries the policy and a lease
(store time, a per-customer counter, ``renew_by``), and lists for each covered file its
content key wrapped under KWK = HKDF(K, salt = licence id), the stream commitment and the
SHA-256 of the ciphertext. Signed with the store's licence key (Ed25519, RFC 8785).
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
    policy: dict[str, Any]
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
    policy: dict[str, Any],
    issued_at: dt.datetime,
    counter: int,
    files: list[LicensedFile],
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
        "policy": policy,
        "issued_at": issued_at.isoformat(),
        "renew_by": (issued_at + LEASE).isoformat(),
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
            policy=dict(body["policy"]),
            issued_at=dt.datetime.fromisoformat(body["issued_at"]),
            renew_by=dt.datetime.fromisoformat(body["renew_by"]),
            counter=int(body["counter"]),
            files=files,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"licence is malformed: {exc}") from exc
