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
transaction, then the licence file and the vault folder. The store's time raises the time mark.
The runtime starts this in the background (runtime/background.py).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from typing import Any

from tollgate.client.account import Account, Unlocked
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.errors import IntegrityFailure, Refused
from tollgate.crypto import CryptoError
from tollgate.crypto.keys import time_mark_key
from tollgate.runtime.home import ClientHome, write_json
from tollgate.runtime.state import BoughtAddOn, now_iso, record_history
from tollgate.runtime.timemark import read_mark, write_mark
from tollgate.wire.licence import parse_licence

USE_BATCH = 200
USE_OUTCOMES = {"charged", "recorded", "declined", "refused"}


@dataclass
class SyncReport:
    store_id: str
    renewed: list[str] = field(default_factory=list)  # "MT dic2"
    revoked: list[dict[str, str]] = field(default_factory=list)
    renew_by: str | None = None
    uses: dict[str, int] = field(default_factory=dict)  # outcome -> count, this sync

    def to_json(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "renewed": self.renewed,
            "revoked": self.revoked,
            "renew_by": self.renew_by,
            "uses": self.uses,
        }


def sync_store(home: ClientHome, api: StoreAPI, account: Account, keys: Unlocked) -> SyncReport:
    report = SyncReport(account.store_id)
    send_uses(home, api, account, keys, report)
    renew_leases(home, api, account, keys, report)
    return report


def send_uses(
    home: ClientHome, api: StoreAPI, account: Account, keys: Unlocked, report: SyncReport
) -> None:
    waiting = home.state.uses(account.store_id, statuses=("queued", "declined"))
    signer = Signer(account.customer_id, keys.purchase_key)
    for start in range(0, len(waiting), USE_BATCH):
        batch = {u.event_id: u for u in waiting[start : start + USE_BATCH]}
        body = {
            "events": [
                {"event_id": u.event_id, "order_id": u.order_id, "name": u.name, "at": u.at}
                for u in batch.values()
            ]
        }
        answer = api.request("POST", "/v1/uses", body=body, signer=signer)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise IntegrityFailure("the store's answer to the uses sent is malformed")
        with home.state.transaction() as conn:
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


def renew_leases(
    home: ClientHome, api: StoreAPI, account: Account, keys: Unlocked, report: SyncReport
) -> None:
    held = {b.order_id: b for b in home.state.bought(account.store_id)}
    if not held:
        return
    signer = Signer(account.customer_id, keys.purchase_key)
    try:
        answer = api.request(
            "POST", "/v1/licences/renew", body={"orders": list(held)}, signer=signer
        )
    except Refused as exc:
        if exc.code != "customer_stopped":
            raise
        for each in held.values():
            _remove(home, account, each, "the store stopped selling to this customer")
            report.revoked.append({"order_id": each.order_id, "reason": "stopped"})
        return
    licences, revoked, store_time = _renewal_answer(answer)
    renewed = []
    for envelope in licences:
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
    for order_id, reason in revoked:
        gone = held.get(order_id)
        if gone is not None:
            _remove(home, account, gone, f"the order was {reason}")
            report.revoked.append({"order_id": order_id, "reason": reason})
    _raise_mark(home, account, keys, store_time)


def _renewal_answer(answer: Any) -> tuple[list[Any], list[tuple[str, str]], dt.datetime]:
    """The renewal answer's licences, revoked orders and store time, or IntegrityFailure."""
    try:
        licences, revoked = answer["licences"], answer["revoked"]
        if not isinstance(licences, list) or not isinstance(revoked, list):
            raise TypeError("licences and revoked must be lists")
        gone = [(str(g["order_id"]), str(g.get("reason", "revoked"))) for g in revoked]
        return licences, gone, dt.datetime.fromisoformat(answer["store_time"])
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
    shutil.rmtree(home.addon_vault(store_id, bought.product, bought.addon), ignore_errors=True)


def _raise_mark(
    home: ClientHome, account: Account, keys: Unlocked, store_time: dt.datetime
) -> None:
    """Raise the time mark to the store's time; a damaged mark is replaced by it."""
    key = time_mark_key(keys.customer_key, account.store_id, account.customer_id)
    path = home.timemark_path(account.store_id)
    try:
        mark = read_mark(path, key, account.store_id, account.customer_id)
    except CryptoError:
        mark = None
    if mark is None or store_time > mark:
        write_mark(path, key, account.store_id, account.customer_id, store_time)
