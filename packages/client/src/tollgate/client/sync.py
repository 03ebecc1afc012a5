"""``tollgate sync``: send the metered uses recorded here, and renew the leases of every
licence held (DESIGN.md sections 4 and 5).

Uses go first, in batches signed when they are sent (so a use queued for days is not refused
for an old signature). Each result updates its row: ``charged``, ``recorded`` (counted, not
charged per use) or ``declined`` (sent again by the next sync, which is how a use is charged
once the card works); an event the store refused (an order refunded meanwhile) is kept as
``refused``, never sent again. A use is deleted from nowhere: the state keeps the record.

For each store: send the orders this machine holds licences for; each licence comes back
re-signed with a new lease and is checked (signature, store, customer, same licence) before it
replaces the one on disk; an order the store says no longer stands (refunded) — or every order,
when the store has stopped selling to the customer — is removed: state rows and history in one
transaction, then the licence file and the vault folder. An order the store holds (a use
declined, or a meter that does not add up) keeps its licence until ``renew_by`` and is reported.

The meter (runtime/meter.py) travels with the renewal: its generation and each licence's use
count, as read with the uses just sent. The answer raises the mark to the store's time and the
counts to what the store has seen. The runtime starts this in the background
(runtime/background.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from typing import Any

from tollgate.client.account import Account, Unlocked
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.errors import IntegrityFailure, Refused
from tollgate.client.meter import MeterAccess
from tollgate.client.purchase import forget_order
from tollgate.crypto import CryptoError
from tollgate.files import exclusive
from tollgate.runtime.home import ClientHome, write_json
from tollgate.runtime.meter import Meter
from tollgate.runtime.state import BoughtAddOn, now_iso, record_history
from tollgate.wire.licence import parse_licence

USE_BATCH = 200
USE_OUTCOMES = {"charged", "recorded", "declined", "refused"}


@dataclass
class SyncReport:
    store_id: str
    renewed: list[str] = field(default_factory=list)  # "MT dic2"
    revoked: list[dict[str, str]] = field(default_factory=list)
    held: list[dict[str, str]] = field(default_factory=list)  # not renewed, not removed: why
    renew_by: str | None = None
    uses: dict[str, int] = field(default_factory=dict)  # outcome -> count, this sync

    def to_json(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "renewed": self.renewed,
            "revoked": self.revoked,
            "held": self.held,
            "renew_by": self.renew_by,
            "uses": self.uses,
        }


def sync_store(home: ClientHome, api: StoreAPI, account: Account, keys: Unlocked) -> SyncReport:
    """One sync at a time per store (a background one and `tollgate sync` wait for each
    other): two interleaved renewals would declare meter generations out of order."""
    report = SyncReport(account.store_id)
    with exclusive(home.store_dir(account.store_id) / "sync.lock"):
        declared = send_uses(home, api, account, keys, report)
        renew_leases(home, api, account, keys, report, declared)
    return report


def send_uses(
    home: ClientHome, api: StoreAPI, account: Account, keys: Unlocked, report: SyncReport
) -> Meter | None:
    """Send the uses waiting here; return the meter as read with them, which the renewal
    declares. Both are read in one write transaction, so the counts are exactly those of the
    uses sent (a use recorded meanwhile is numbered after them); the meter is written back in
    it with its generation raised, so the generation declared is newer than any copy of the
    client state made before."""
    access = MeterAccess.of(account, keys)
    with home.state.transaction() as conn:
        declared = access.read(conn)
        if declared is not None:  # any copy made before this sync now has a lower generation
            access.write(conn, declared)
        waiting = home.state.uses(account.store_id, statuses=("queued", "declined"))
    signer = Signer(account.customer_id, keys.purchase_key)
    for start in range(0, len(waiting), USE_BATCH):
        batch = {u.event_id: u for u in waiting[start : start + USE_BATCH]}
        body = {
            "events": [
                {
                    "event_id": u.event_id,
                    "order_id": u.order_id,
                    "name": u.name,
                    "at": u.at,
                    "seq": u.seq,
                }
                for u in batch.values()
            ]
        }
        answer = api.request("POST", "/v1/uses", body=body, signer=signer)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise IntegrityFailure("the store's answer to the uses sent is malformed")
        with home.state.transaction() as conn:
            meter = access.read(conn)
            for r in results:
                sent = batch.get(str(r.get("event_id"))) if isinstance(r, dict) else None
                status = r.get("status") if isinstance(r, dict) else None
                if sent is None or status not in USE_OUTCOMES:
                    raise IntegrityFailure("the store answered for a use that was not sent")
                conn.execute(
                    "UPDATE uses SET status = ?, charge_id = ?, sent_at = ? WHERE event_id = ?",
                    (status, r.get("charge_id"), now_iso(), sent.event_id),
                )
                report.uses[status] = report.uses.get(status, 0) + 1
                if meter is not None and sent.seq is not None:
                    reported = meter.reported.get(sent.order_id, 0)
                    meter.reported[sent.order_id] = max(reported, sent.seq + 1)
            if meter is not None:
                access.write(conn, meter)
    return declared


def renew_leases(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    keys: Unlocked,
    report: SyncReport,
    meter: Meter | None,
) -> None:
    access = MeterAccess.of(account, keys)
    held = {b.order_id: b for b in home.state.bought(account.store_id)}
    if not held:
        return
    signer = Signer(account.customer_id, keys.purchase_key)
    declared = None if meter is None else {"generation": meter.generation, "uses": meter.uses}
    try:
        answer = api.request(
            "POST",
            "/v1/licences/renew",
            body={"orders": list(held), "meter": declared},
            signer=signer,
        )
    except Refused as exc:
        if exc.code != "customer_stopped":
            raise
        for each in held.values():
            _remove(home, account, each, "the store stopped selling to this customer")
            report.revoked.append({"order_id": each.order_id, "reason": "stopped"})
        return
    found = _renewal_answer(answer)
    renewed = []
    for envelope in found.licences:
        try:
            licence = parse_licence(
                envelope,
                account.licence_public_key,
                store_id=account.store_id,
                customer_id=account.customer_id,
            )
        except CryptoError as exc:
            raise IntegrityFailure(f"a renewed licence does not verify: {exc}") from exc
        mine = held.get(licence.order_id)
        if mine is None or mine.licence_id != licence.licence_id:
            raise IntegrityFailure("the store renewed a licence this machine does not hold")
        renewed.append((licence, envelope))
    # Everything checked: now change what is on disk.
    for licence, envelope in renewed:
        write_json(home.licence_path(account.store_id, licence.licence_id), envelope)
        report.renewed.append(f"{licence.product} {licence.addon}")
    if renewed:
        report.renew_by = min(licence.renew_by for licence, _ in renewed).isoformat()
    for order_id, reason in found.revoked:
        gone = held.get(order_id)
        if gone is not None:
            _remove(home, account, gone, f"the order was {reason}")
            report.revoked.append({"order_id": order_id, "reason": reason})
    report.held = found.held
    with home.state.transaction() as conn:
        fresh = access.read(conn) or Meter()
        fresh.seen(found.store_time)
        fresh.generation = max(fresh.generation, found.generation)
        for order_id, count in found.uses.items():  # what the store has of this machine's uses
            fresh.uses[order_id] = max(fresh.uses.get(order_id, 0), count)
            fresh.reported[order_id] = max(fresh.reported.get(order_id, 0), count)
            if order_id in held:
                counted = f"{held[order_id].product}/{held[order_id].addon}"
                fresh.totals[counted] = max(fresh.totals.get(counted, 0), count)
        access.write(conn, fresh)


@dataclass(frozen=True)
class _Renewal:
    licences: list[Any]
    revoked: list[tuple[str, str]]
    held: list[dict[str, str]]
    store_time: dt.datetime
    generation: int  # the meter generation the store has accepted
    uses: dict[str, int]  # order id -> the next use number the store expects


def _renewal_answer(answer: Any) -> _Renewal:
    """The renewal answer, every field checked, or IntegrityFailure."""
    try:
        licences, revoked = answer["licences"], answer["revoked"]
        if not isinstance(licences, list) or not isinstance(revoked, list):
            raise TypeError("licences and revoked must be lists")
        gone = [(str(g["order_id"]), str(g.get("reason", "revoked"))) for g in revoked]
        held = [
            {"order_id": str(h["order_id"]), "reason": str(h["reason"]), "detail": str(h["detail"])}
            for h in answer.get("held", [])
        ]
        meter = answer.get("meter") or {"generation": 0, "uses": {}}
        uses = {str(k): int(v) for k, v in meter["uses"].items()}
        if any(v < 0 for v in uses.values()):
            raise ValueError("use counts are never negative")
        when = dt.datetime.fromisoformat(answer["store_time"])
        if when.tzinfo is None:
            raise ValueError("store_time has no time zone")
        return _Renewal(licences, gone, held, when, int(meter["generation"]), uses)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityFailure(f"the store's renewal answer is malformed: {exc}") from exc


def _remove(home: ClientHome, account: Account, bought: BoughtAddOn, why: str) -> None:
    store_id = account.store_id
    with home.state.transaction() as conn:
        conn.execute(
            "DELETE FROM addons WHERE store_id = ? AND product = ? AND addon = ?",
            (store_id, bought.product, bought.addon),
        )
        conn.execute(
            "DELETE FROM files WHERE store_id = ? AND product = ? AND addon = ? "
            "AND licence_id IS NOT NULL",
            (store_id, bought.product, bought.addon),
        )
        record_history(
            conn, store_id, bought.product, "revoke", bought.version, f"{bought.addon}: {why}"
        )
    home.licence_path(store_id, bought.licence_id).unlink(missing_ok=True)
    forget_order(home, account, bought.order_id)  # it no longer stands: nothing to finish
    shutil.rmtree(home.addon_vault(store_id, bought.product, bought.addon), ignore_errors=True)
