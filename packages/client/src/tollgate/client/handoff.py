"""What ``tollgate open`` does with a storefront's hand-off: an install-list file the browser
downloaded, or a ``tollgate://`` link (wire/handoff.py).

Nothing handed over is believed. A file is checked against the store's TUF metadata, from the
root pinned at registration, exactly as a list fetched by the client is (client/install_list.py),
so a file altered after download installs nothing; then the client asks the store for the list
of *this* machine's environment (the browser could only guess it) and plans from that. The
store contacted is the one registered under the named store id, never a URL from the file or
link. The add-on's price comes from the signed catalog, and the customer confirms before the
purchase, which the client makes and signs as ``tollgate buy`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from tollgate.client.account import Account, match_account
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import Catalog, account_catalog
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.client.install import Plan, plan_install
from tollgate.client.install_list import verify_install_list
from tollgate.client.purchase import KeptOrder
from tollgate.crypto import bounded_json
from tollgate.protocol.environment import Environment
from tollgate.runtime.home import ClientHome
from tollgate.wire import install_list
from tollgate.wire.addons import price_terms
from tollgate.wire.handoff import SCHEME, BadHandOff, HandOff, parse_link

MAX_FILE = 1024 * 1024  # an install list is a few KiB; refuse to read a huge file


@dataclass(frozen=True)
class Handed:
    """What ``tollgate open`` was given, read but not yet checked."""

    handoff: HandOff
    document: dict[str, Any] | None  # the install-list file, when it was a file
    store_url: str | None  # what the file says the store's URL is: a hint, never contacted


def read_handed(argument: str) -> Handed:
    """Read a ``tollgate://`` link or an install-list file; `UsageError` for anything that is
    neither (whatever its bytes)."""
    if argument.lower().startswith(SCHEME + ":"):
        try:
            return Handed(parse_link(argument), None, None)
        except BadHandOff as exc:
            raise UsageError(f"the link is not one Tollgate acts on: {exc}") from exc
    path = _handed_path(argument)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL in the name (a file URL's %00)
        raise UsageError(f"cannot read {str(path)[:200]!r}: {exc}") from exc
    if len(raw) > MAX_FILE:
        raise UsageError(
            f"{path} is not a Tollgate install list: it is larger than any ({MAX_FILE:,} bytes)"
        )
    try:
        document = bounded_json.loads(raw, max_size=MAX_FILE)
        listed = install_list.parse(document)
    except (bounded_json.BadJSON, install_list.MalformedInstallList) as exc:
        # Not one at all (a wrong file): a usage error. One that parses but does not match the
        # store's signed metadata is refused as tampered, later (plan_handoff).
        raise UsageError(f"{path} is not a Tollgate install list: {exc}") from exc
    handoff = listed.handoff or HandOff("install", listed.store_id, listed.product)
    return Handed(handoff, document, listed.store_url)


def _handed_path(argument: str) -> Path:
    """The file handed over: a path, or the file:// URL a desktop handler run with %u gets."""
    if not argument.lower().startswith("file:"):
        return Path(argument)
    try:
        split = urlsplit(argument)
    except ValueError as exc:  # "file://[": a bracket read as an IPv6 address
        raise UsageError(f"{argument[:200]!r} is not a file URL: {exc}") from exc
    return Path(url2pathname(split.path))


def account_for(home: ClientHome, handed: Handed) -> Account:
    account = match_account(home, handed.handoff.store_id)
    if account is None:
        where = f" (it says it comes from {handed.store_url})" if handed.store_url else ""
        raise UsageError(
            f"this is for store {handed.handoff.store_id}{where}, where you are not registered: "
            "register there first (`tollgate register URL`, after checking the store's root "
            "fingerprint on its page)"
        )
    return account


@dataclass(frozen=True)
class HandOffPlan:
    """What ``open`` (a hand-off) or ``buy`` will do: the core to install, if anything, and the
    add-on to buy, already own, or finish fetching."""

    handoff: HandOff
    install: Plan | None  # the core for this machine's own environment; None: buy leaves it
    offer: dict[str, Any] | None  # the add-on to buy, from the signed catalog
    owned: bool  # this revision of the add-on is already bought, or it is free
    catalog: Catalog | None = None  # the signed catalog the offer came from
    earlier: KeptOrder | None = None  # paid for by an earlier run; its files still to fetch

    @property
    def terms(self) -> str | None:
        if self.offer is None:
            return None
        return price_terms(
            int(self.offer["price"]), str(self.offer["currency"]), self.offer.get("per_use")
        )

    @property
    def fetches_addon(self) -> bool:
        """The add-on's files are to be fetched (bought now, or paid for earlier)."""
        return self.offer is not None and not self.owned

    @property
    def buys(self) -> bool:
        """Money moves: a new order is placed (the customer must agree first)."""
        return self.fetches_addon and self.earlier is None

    @property
    def installs(self) -> bool:
        return self.install is not None and not self.install.up_to_date

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.handoff.action,
            "store_id": self.handoff.store_id,
            "product": self.handoff.product,
            "addon": self.handoff.addon,
            "install": None if self.install is None else self.install.to_json(),
            "terms": self.terms,
            "owned": self.owned,
            "paid_earlier": None if self.earlier is None else self.earlier.licence.order_id,
        }


AskStore = Callable[[str], KeptOrder | None]  # the store's word on what is held of a release


def plan_handoff(
    home: ClientHome, api: StoreAPI, account: Account, handed: Handed, ask_store: AskStore
) -> HandOffPlan:
    """Check what was handed over and plan it for this machine; nothing is written here (the
    store is asked what the customer holds, in a request that cannot charge)."""
    handoff = handed.handoff
    environment = Environment.current()
    if handed.document is not None:
        try:
            verify_install_list(
                handed.document,
                account.trust(api, home),
                account.store_id,
                handoff.product,
                environment,
            )
        except IntegrityFailure as exc:
            raise IntegrityFailure(
                f"the install list does not match the store's signed metadata ({exc}); nothing "
                "was installed. If the store published a new release since, get the file again"
            ) from exc
    plan = plan_install(home, api, account, handoff.product, environment)
    if handoff.addon is None:
        return HandOffPlan(handoff, plan, None, owned=False)
    catalog = account_catalog(api, home, account)
    return _with_addon(home, account, handoff, plan, catalog, ask_store)


def plan_purchase(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    product: str,
    addon: str,
    ask_store: AskStore,
) -> HandOffPlan:
    """``tollgate buy``: the add-on from the signed catalog, and the product's free core
    first when it is not installed here (an installed core is left as it is)."""
    catalog = account_catalog(api, home, account)
    catalog.addon(product, addon)  # a wrong name is said before anything else
    handoff = HandOff("buy", account.store_id, product, addon)
    installed = home.state.product(account.store_id, product)
    plan = None if installed else plan_install(home, api, account, product, Environment.current())
    return _with_addon(home, account, handoff, plan, catalog, ask_store)


def _with_addon(
    home: ClientHome,
    account: Account,
    handoff: HandOff,
    plan: Plan | None,
    catalog: Catalog,
    ask_store: AskStore,
) -> HandOffPlan:
    """The add-on's offer; whether this machine holds it; and, when it does not, what the
    store says the customer holds (a purchase whose download was lost: finished, not paid
    again; a refunded one: the store's refusal, before any question)."""
    assert handoff.addon is not None
    offer = catalog.addon(handoff.product, handoff.addon)
    free = int(offer["price"]) == 0 and not offer.get("per_use")
    # A revision bought in any release is the customer's: `tollgate update` brings it along.
    held = home.state.addons(account.store_id, handoff.product).get(handoff.addon)
    owned = free or (held is not None and held.revision == int(offer["revision"]))
    version = str(catalog.product(handoff.product)["version"])
    earlier = None if owned else ask_store(version)
    return HandOffPlan(handoff, plan, offer, owned, catalog, earlier)
