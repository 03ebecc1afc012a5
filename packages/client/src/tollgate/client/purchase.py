"""Buying an add-on: a signed order, the licence checked, the encrypted files into the vault.

The order carries a fresh Idempotency-Key; the store keeps one order per (customer, add-on
release), so ordering again returns the same licence and charges nothing more. Before it asks
the customer to pay, the client asks the store what they already hold of that release, in a
request that cannot charge (`held_at_store`, an ``upgrade`` order): a purchase whose answer or
download was lost (Ctrl-C, a cut line, a crash) is finished from the store's word, without a
question or a charge, and a refunded one is refused as such. The store's answer is kept
(``HOME/stores/<id>/orders/``) the moment it has been checked, before any file is fetched: a
receipt, and what `tollgate list` names as a purchase whose download is unfinished.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate.client.account import Account, Unlocked
from tollgate.client.api import Progress, Signer, StoreAPI
from tollgate.client.catalog import Catalog
from tollgate.client.download import fetch_file, signed_parts
from tollgate.client.errors import (
    ClientError,
    IntegrityFailure,
    Interrupted,
    Refused,
    Unreachable,
    UsageError,
)
from tollgate.client.meter import start_meter
from tollgate.crypto import CryptoError
from tollgate.files import exclusive
from tollgate.runtime.errors import ClientStateUnavailable, explain_os_error
from tollgate.runtime.home import ClientHome, write_json
from tollgate.runtime.machine import os_release
from tollgate.runtime.state import record_history
from tollgate.wire.addons import format_amount
from tollgate.wire.licence import Licence, parse_licence

ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the store's order ids, as file names
MAX_KEPT_ORDERS = 10_000  # orders read back when looking for an unfinished one
MAX_KEPT_ANSWER = 256 * 1024  # bytes: an order's answer is a few KiB


@dataclass(frozen=True)
class Purchase:
    order_id: str
    amount: int
    currency: str
    charge_id: str | None
    licence_id: str
    files: int
    fetched_bytes: int = 0  # bytes downloaded by this run (a resumed download: the rest only)
    finished_earlier_order: bool = False  # placed by an earlier run: nothing charged by this one

    @property
    def charged_now(self) -> int:
        """What this run charged: nothing when it finished an earlier order."""
        return 0 if self.finished_earlier_order else self.amount

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "charged_now": self.charged_now}


@dataclass(frozen=True)
class KeptOrder:
    """The store's checked answer to an order, as kept on this machine."""

    outcome: dict[str, Any]
    licence: Licence

    @property
    def paid(self) -> str:
        """What the customer paid, in words."""
        amount, currency = self.outcome.get("amount"), self.outcome.get("currency")
        order = self.licence.order_id
        if isinstance(amount, int) and amount and isinstance(currency, str):
            return f"charged {format_amount(amount, currency)}, order {order}"
        return f"order {order}"


@dataclass(frozen=True)
class VaultFile:
    """An add-on file in the vault, as the client state records it."""

    name: str
    path: Path
    digest: str
    size: int
    target: str


def place_order(
    api: StoreAPI,
    account: Account,
    signer: Signer,
    product: str,
    addon: str,
    version: str,
    *,
    upgrade: bool = False,
) -> tuple[dict[str, Any], Licence]:
    """Order an add-on of one release and check the licence that comes back. With ``upgrade``
    the store makes only a free update of a revision already bought (never a charge)."""
    outcome: dict[str, Any] = api.request(
        "POST",
        "/v1/orders",
        body={
            "product": product,
            "addon": addon,
            "version": version,
            "upgrade": upgrade,
            "os_release": os_release(),
        },
        signer=signer,
        headers={"Idempotency-Key": "idem_" + secrets.token_hex(16)},
    )
    licence = checked_answer(outcome, account)
    if (licence.product, licence.addon, licence.version) != (product, addon, version):
        raise IntegrityFailure("the store sent a licence for something else")
    if upgrade and outcome.get("amount") != 0 and outcome.get("placed_earlier") is not True:
        raise IntegrityFailure(
            f"the store answered an update with a charge of {outcome.get('amount')} "
            f"{outcome.get('currency')}: report this to the store"
        )
    return outcome, licence


def checked_answer(outcome: Any, account: Account) -> Licence:
    """The licence of a store's answer to an order, verified, with the answer's own fields
    (order id, amount, currency) of the right kinds and naming the licence's order."""
    try:
        licence = parse_licence(
            outcome["licence"],
            account.licence_public_key,
            store_id=account.store_id,
            customer_id=account.customer_id,
        )
    except (KeyError, TypeError, CryptoError) as exc:
        raise IntegrityFailure(f"the store's licence does not verify: {exc}") from exc
    amount = outcome.get("amount")
    if (
        outcome.get("order_id") != licence.order_id
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or amount < 0
        or not isinstance(outcome.get("currency"), str)
    ):
        raise IntegrityFailure("the store's answer to the order is malformed")
    return licence


def held_at_store(
    api: StoreAPI, account: Account, signer: Signer, product: str, addon: str, version: str
) -> KeptOrder | None:
    """What the store says this customer holds of an add-on release, asked in a request that
    cannot charge (an ``upgrade`` order): their standing order (paid earlier; or made now,
    free, for a revision they paid for in another release), or None when they hold nothing
    yet (or an order of theirs is still being paid: buying finishes it). A refunded purchase or
    a stopped customer is the store's refusal."""
    try:
        outcome, licence = place_order(api, account, signer, product, addon, version, upgrade=True)
    except Refused as exc:
        if exc.code in ("not_an_upgrade", "order_in_progress"):
            return None
        raise
    return KeptOrder(outcome, licence)


def keep_order(
    home: ClientHome, account: Account, outcome: dict[str, Any], licence: Licence
) -> None:
    """Keep the store's answer to an order before anything is fetched for it."""
    if not ORDER_ID.fullmatch(licence.order_id):
        raise IntegrityFailure("the store's order id is not one a file may be named after")
    write_json(home.orders_dir(account.store_id) / f"{licence.order_id}.json", outcome)


def forget_order(home: ClientHome, account: Account, order_id: str) -> None:
    (home.orders_dir(account.store_id) / f"{order_id}.json").unlink(missing_ok=True)


def unfinished_orders(home: ClientHome, account: Account) -> Iterator[KeptOrder]:
    """Orders kept here for add-ons this machine does not hold at all (`tollgate list` names
    them: paid for, download unfinished; `buy` finishes them). A kept file that is not a
    verifying answer proves nothing and is passed over, whatever it holds."""
    folder = home.orders_dir(account.store_id)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json"))[:MAX_KEPT_ORDERS]:
        try:
            outcome = json.loads(read_plain_bounded(path, MAX_KEPT_ANSWER))
            licence = checked_answer(outcome, account)
        except (OSError, ValueError, RecursionError, IntegrityFailure, AttributeError):
            continue
        if home.state.addons(account.store_id, licence.product).get(licence.addon) is None:
            yield KeptOrder(outcome, licence)


def forget_orders_of(home: ClientHome, account: Account, product: str, addon: str) -> None:
    """Drop the kept answers for an add-on the store says no longer stands (refunded)."""
    for kept in unfinished_orders(home, account):
        if (kept.licence.product, kept.licence.addon) == (product, addon):
            forget_order(home, account, kept.licence.order_id)


def read_plain_bounded(path: Path, limit: int) -> bytes:
    """A regular file's first ``limit`` bytes, never blocking on a FIFO or following a link;
    OSError when it is not a regular file or is larger."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path} is larger than any answer")
    return data


def record_addon(
    home: ClientHome,
    account: Account,
    outcome: dict[str, Any],
    licence: Licence,
    *,
    function: str,
    revision: int,
    files: list[VaultFile],
    action: str,
    detail: str,
) -> None:
    """Keep the licence, then switch the add-on, its files and the history in one transaction."""
    write_json(home.licence_path(account.store_id, licence.licence_id), outcome["licence"])
    store_id, product, addon = account.store_id, licence.product, licence.addon
    with home.state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO addons (store_id, product, addon, version, function, "
            "revision, licence_id, order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                store_id,
                product,
                addon,
                licence.version,
                function,
                revision,
                licence.licence_id,
                outcome["order_id"],
            ),
        )
        conn.execute(
            "DELETE FROM files WHERE store_id = ? AND product = ? AND addon = ?",
            (store_id, product, addon),
        )
        for f in files:
            conn.execute(
                "INSERT INTO files (store_id, product, kind, addon, name, version, function, "
                "revision, path, digest, size, target, licence_id) "
                "VALUES (?, ?, 'add-on', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    store_id,
                    product,
                    addon,
                    f.name,
                    licence.version,
                    function,
                    revision,
                    str(f.path),
                    f.digest,
                    f.size,
                    f.target,
                    licence.licence_id,
                ),
            )
        record_history(
            conn,
            store_id,
            product,
            action,
            licence.version,
            detail,
            order_id=licence.order_id,
            amount=_int_or_none(outcome.get("amount")),
            currency=_str_or_none(outcome.get("currency")),
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


NOT_ASKED = object()  # buy() asks the store what is held unless the caller already did


def buy(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    catalog: Catalog,
    product: str,
    addon: str,
    *,
    keys: Unlocked,
    progress: Progress | None = None,
    held: KeptOrder | object | None = NOT_ASKED,
) -> Purchase:
    """Finish the customer's standing order for the add-on (``held``, what `held_at_store`
    answered, asked here when not given) or place one (charged once), fetch its encrypted files
    into the vault, keep the licence, and start the store's meter if this machine has none
    (client/meter.py). From the moment an order is sent, a failure or Ctrl-C says what may have
    been charged and how to finish. One purchase at a time per store on this machine
    (``purchase.lock``): a second waits, then finishes with the first's order."""
    if home.state.product(account.store_id, product) is None:
        raise UsageError(f"install {product} first: `tollgate install {product}`")
    info = catalog.addon(product, addon)
    version = catalog.product(product)["version"]
    signer = Signer(account.customer_id, keys.purchase_key)
    again = f"run `tollgate buy {product} {addon}` again to finish: nothing more will be charged"
    with exclusive(home.store_dir(account.store_id) / "purchase.lock"):
        if held is NOT_ASKED or held is None:  # (again, under the lock: another may have paid)
            held = held_at_store(api, account, signer, product, addon, version)
        assert held is None or isinstance(held, KeptOrder)
        kept = held or _order(api, account, signer, product, addon, version, again)
        try:
            keep_order(home, account, kept.outcome, kept.licence)
            vault, fetched = _fill_vault(home, api, account, signer, info, kept.licence, progress)
            _record_purchase(home, account, info, kept, vault)
        except KeyboardInterrupt as exc:
            raise Interrupted(f"interrupted after the purchase ({kept.paid}); {again}") from exc
        except ClientError as exc:
            raise exc.noting(f"The purchase is made ({kept.paid}): {again}") from exc
        except OSError as exc:  # this machine's disk or folder
            failed = UsageError(explain_os_error(exc, "writing the add-on", home.root))
            raise failed.noting(f"The purchase is made ({kept.paid}): {again}") from exc
        except ClientStateUnavailable as exc:  # the state database: a full disk, say
            raise UsageError(str(exc)).noting(
                f"The purchase is made ({kept.paid}): {again}"
            ) from exc
    start_meter(home, account, keys, kept.licence.issued_at)
    outcome, licence = kept.outcome, kept.licence
    return Purchase(
        licence.order_id,
        int(outcome["amount"]),
        str(outcome["currency"]),
        outcome.get("charge_id"),
        licence.licence_id,
        len(licence.files),
        fetched,
        held is not None or outcome.get("placed_earlier") is True,
    )


def _record_purchase(
    home: ClientHome,
    account: Account,
    info: dict[str, Any],
    kept: KeptOrder,
    vault: list[VaultFile],
) -> None:
    record_addon(
        home,
        account,
        kept.outcome,
        kept.licence,
        function=info["function"],
        revision=info["revision"],
        files=vault,
        action="buy",
        detail=f"{kept.licence.addon} (order {kept.licence.order_id})",
    )


def _order(
    api: StoreAPI,
    account: Account,
    signer: Signer,
    product: str,
    addon: str,
    version: str,
    again: str,
) -> KeptOrder:
    """Place the order. Once the request is sent the store may have charged, whatever happens
    here: an interruption or a lost answer says so, and running ``buy`` again is safe (one
    order per add-on release: the store finds this one, and the next run asks it first)."""
    maybe = f"the order may have been placed and charged; {again}"
    try:
        outcome, licence = place_order(api, account, signer, product, addon, version)
    except KeyboardInterrupt as exc:
        raise Interrupted(f"interrupted while ordering {product} {addon}: {maybe}") from exc
    except Unreachable as exc:
        raise exc.noting(maybe.capitalize()) from exc
    return KeptOrder(outcome, licence)


def _fill_vault(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    signer: Signer,
    info: dict[str, Any],
    licence: Licence,
    progress: Progress | None,
) -> tuple[list[VaultFile], int]:
    """Fetch the licence's files (encrypted, in signed parts that resume) into the vault;
    return them and the bytes fetched."""
    signed = {f["digest"]: f for f in info["files"]}
    vault, fetched = [], 0
    product, addon, version = licence.product, licence.addon, licence.version
    for f in licence.files:
        if f.digest not in signed:
            raise IntegrityFailure(f"the licence names {f.path}, which TUF does not list")
        entry = signed[f.digest]
        target = home.vault_file(account.store_id, product, addon, version, f.digest)
        vault.append(VaultFile(f.path, target, f.digest, entry["size"], entry["target"]))
        if not target.exists():
            try:
                parts = signed_parts(entry["entry"]["parts"], entry["size"], f.digest)
            except (KeyError, TypeError, ValueError) as exc:
                raise IntegrityFailure(f"the signed parts of {f.path} are unusable: {exc}") from exc
            fetched += fetch_file(api, f.digest, parts, target, signer=signer, progress=progress)
    return vault, fetched
