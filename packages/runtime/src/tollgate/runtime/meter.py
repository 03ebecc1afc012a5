"""The meter: what this machine has seen and done for one store, sealed so that editing the
client state cannot undo a licence rule (docs/protocol.md "The meter").

```
mark        the latest time seen: every clock reading a check makes, refused or not, and the
            store's times (licences' issued_at, renewals' store_time). A clock behind it is
            refused for time rules (runtime/policy.py).
generation  goes up by one at every write. The store learns it at each renewal; one lower than
            the store has seen means the state was restored from an older copy, or removed.
uses        order id -> uses recorded here for that licence: the next use's sequence number.
            A ``uses = N`` cap is counted here, not by counting rows a customer can delete.
reported    order id -> uses the store has answered for. ``uses - reported`` is what this
            machine holds unsent; a licence's offline allowance bounds it.
totals      "product/add-on" -> uses of that add-on in all its releases: what a ``uses = N``
            cap counts (a free update to a new release is a new order, not new uses).
```

The meter is one row of the client state's ``meter`` table, per store, written in the same
SQLite transaction as the use it counts, so a crash never leaves a number without its use (the
store would read that as a deleted use). It is sealed with AES-256-GCM under a key derived from
``K`` (crypto/keys.py ``time_mark_key``), store and customer bound as associated data: it cannot
be edited, or moved between customers; it can only be removed or replaced by an older copy of
itself, which the store notices at the next renewal (store/services/renewal.py).
`open_meter` raises only `IntegrityError`: the sealed text is at most ``MAX_SEALED``
characters of bounded JSON (crypto/bounded_json.py), its nonce 12 bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tollgate.crypto import bounded_json
from tollgate.crypto.errors import IntegrityError
from tollgate.crypto.kdf import encode_info

FORMAT = 1
MAX_SEALED = 1024 * 1024  # a meter counts a few orders; a megabyte is thousands of them


@dataclass
class Meter:
    mark: dt.datetime | None = None
    generation: int = 0
    uses: dict[str, int] = field(default_factory=dict)
    reported: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def seen(self, when: dt.datetime) -> None:
        """Raise the mark to ``when`` (it never goes down)."""
        if self.mark is None or when > self.mark:
            self.mark = when

    def unsent(self, order_id: str) -> int:
        return self.uses.get(order_id, 0) - self.reported.get(order_id, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "mark": None if self.mark is None else self.mark.astimezone(dt.UTC).isoformat(),
            "generation": self.generation,
            "uses": self.uses,
            "reported": self.reported,
            "totals": self.totals,
        }

    @classmethod
    def from_json(cls, raw: Any) -> Meter:
        """A meter's fields; ValueError (or KeyError, TypeError) when one is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("the meter is not an object")
        text = raw["mark"]
        if text is not None and not isinstance(text, str):
            raise ValueError("the mark is not a date-time")
        mark = None if text is None else dt.datetime.fromisoformat(text)
        if mark is not None and mark.tzinfo is None:
            raise ValueError("the mark has no time zone")
        return cls(
            mark,
            _count(raw["generation"]),
            _counts(raw["uses"]),
            _counts(raw["reported"]),
            _counts(raw["totals"]),
        )


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _counts(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ValueError("counts must be an object")
    return {str(k): _count(v) for k, v in raw.items()}


def _aad(store_id: str, customer_id: str) -> bytes:
    return encode_info("meter", store_id, customer_id)


def seal_meter(key: bytes, store_id: str, customer_id: str, meter: Meter) -> str:
    nonce = os.urandom(12)
    plain = json.dumps(meter.to_json(), sort_keys=True).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, _aad(store_id, customer_id))
    doc = {"format": FORMAT, "nonce": base64.b64encode(nonce).decode()}
    doc["sealed"] = base64.b64encode(sealed).decode()
    return json.dumps(doc)


def open_meter(key: bytes, store_id: str, customer_id: str, text: str) -> Meter:
    """The meter sealed in ``text``; `IntegrityError` for anything else."""
    try:
        doc = bounded_json.loads(text, max_size=MAX_SEALED)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("unknown format")
        nonce = base64.b64decode(doc["nonce"], validate=True)
        if len(nonce) != 12:
            raise ValueError("the nonce is not 12 bytes")
        plain = AESGCM(key).decrypt(
            nonce, base64.b64decode(doc["sealed"], validate=True), _aad(store_id, customer_id)
        )
        return Meter.from_json(bounded_json.loads(plain, max_size=MAX_SEALED))
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError("the meter is damaged or not this customer's") from exc


def read_meter(
    conn: sqlite3.Connection, key: bytes, store_id: str, customer_id: str
) -> Meter | None:
    """The store's meter; None when there is none yet; IntegrityError when damaged."""
    row = conn.execute("SELECT sealed FROM meter WHERE store_id = ?", (store_id,)).fetchone()
    return None if row is None else open_meter(key, store_id, customer_id, row[0])


def write_meter(
    conn: sqlite3.Connection, key: bytes, store_id: str, customer_id: str, meter: Meter
) -> None:
    """Store ``meter`` with its generation one higher, inside the caller's transaction."""
    meter.generation += 1
    conn.execute(
        "INSERT INTO meter (store_id, sealed) VALUES (?, ?) "
        "ON CONFLICT (store_id) DO UPDATE SET sealed = excluded.sealed",
        (store_id, seal_meter(key, store_id, customer_id, meter)),
    )
