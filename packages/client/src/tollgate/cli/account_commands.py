"""``tollgate register``, ``card`` and ``handler``: the customer's account on this machine."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tollgate.cli.common import (
    Field,
    G,
    JsonOpt,
    StoreOpt,
    TrustOpt,
    app,
    ask_password,
    card_details,
    gather,
    handled,
    handler_app,
    interactive,
    unlock,
)
from tollgate.cli.confirm import confirm
from tollgate.cli.output import console, emit_json, errors
from tollgate.client.account import (
    find_account,
)
from tollgate.client.api import StoreAPI
from tollgate.client.card import Card, replace_card
from tollgate.client.checks import person_problems
from tollgate.client.desktop import (
    HandlerStatus,
    handler_command,
    handler_status,
    install_handler,
    remove_handler,
)
from tollgate.client.errors import UsageError
from tollgate.client.registration import Registration
from tollgate.client.registration import register as register_customer
from tollgate.crypto.keyfile import Binding


@app.command()
@handled
def register(
    url: Annotated[str, typer.Argument(help="The store's URL.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Your name, as the store keeps it.")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Where the store writes to you.")
    ] = None,
    country: Annotated[str | None, typer.Option("--country", help="ISO 3166 code, e.g. JP")] = None,
    card: Annotated[
        str | None, typer.Option("--card", help="The card number (asked, unechoed, if left out).")
    ] = None,
    expiry: Annotated[
        str | None, typer.Option("--expiry", help="The card's expiry, MM/YY.")
    ] = None,
    cvc: Annotated[
        str | None, typer.Option("--cvc", help="The 3 or 4 digits on the card's back.")
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Protect purchases with a password.")
    ] = False,
    bind: Annotated[
        Binding, typer.Option("--bind", help="What seals the key on disk.")
    ] = Binding.MACHINE,
    trust: TrustOpt = None,
    handler: Annotated[
        bool,
        typer.Option(
            "--handler/--no-handler",
            help="Set up the desktop hand-off so storefront buttons open here (Linux).",
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Register with a store once: the card is checked, a key is made on this machine."""
    who, mail, where, number, month_year, code = gather(
        Field(name, "--name", "Name"),
        Field(email, "--email", "E-mail"),
        Field(country, "--country", "Country (two letters, e.g. JP)"),
        Field(card, "--card", "Card number", hidden=True),
        Field(expiry, "--expiry", "Expiry (MM/YY)"),
        Field(cvc, "--cvc", "CVC", hidden=True),
    )
    where = where.strip().upper()
    problems = person_problems(who, mail, where)
    try:
        card_number, month, year, code = card_details(number, month_year, code)
    except UsageError as exc:
        problems.append(str(exc))
    if problems:
        raise UsageError("; ".join(problems))
    details = Registration(who, mail, where, card_number, month, year, code)
    pw = ask_password(confirm=True) if password or bind.needs_password else None
    with StoreAPI(url) as api:
        done = register_customer(
            G.home,
            api,
            details,
            binding=bind,
            password=pw,
            trust=trust,
            check_store=None if trust or not interactive() else _compare_fingerprint,
        )
    acct = done.account
    desktop = _set_up_handler() if handler else None
    if as_json:
        emit_json(
            {
                "customer_id": acct.customer_id,
                "store_id": acct.store_id,
                "store": acct.store_name,
                "url": acct.url,
                "binding": str(bind),
                "card": done.card,
                "handler": None if desktop is None else desktop.to_json(),
            }
        )
        return
    console.print(f"Registered with {acct.store_name} as {acct.customer_id}")
    console.print(f"Store root fingerprint: {acct.root_fingerprint}")
    console.print(
        f"Card on file: {done.card.get('brand')} ****{done.card.get('last4')}; "
        f"key sealed to: {bind}"
    )
    if desktop is not None:
        console.print(f"Storefront buttons now open here ({desktop.desktop_file})")


def _compare_fingerprint(name: str, store_id: str, fingerprint: str) -> None:
    """Before the card is sent: the customer compares the store's root fingerprint with the
    one its vendor published (on their site, on paper) — the one moment a store in the middle
    could be told from the real one."""
    console.print(f"Store: {name} ({store_id})")
    console.print(f"Root fingerprint (SHA-256): {fingerprint}")
    confirm(
        "Does this fingerprint match the one the vendor gave you?",
        yes=False,
        nothing="nothing was sent: compare again, or pass --trust FINGERPRINT",
    )


def _set_up_handler() -> HandlerStatus | None:
    """The desktop hand-off, where the desktop is freedesktop's; a failure to write it does
    not undo a registration (`tollgate handler install` tries again)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    try:
        return install_handler(handler_command(G.home.root))
    except OSError as exc:
        errors.print(f"could not set up the desktop hand-off: {exc}")
        return None


@handler_app.command("install")
@handled
def handler_install(as_json: JsonOpt = False) -> None:
    """Make storefront downloads and tollgate:// links open with `tollgate open`."""
    _show_handler(install_handler(handler_command(G.home.root)), as_json)


@handler_app.command("remove")
@handled
def handler_remove(as_json: JsonOpt = False) -> None:
    """Undo `tollgate handler install`."""
    _show_handler(remove_handler(), as_json)


@handler_app.command("status")
@handled
def handler_show(as_json: JsonOpt = False) -> None:
    """Whether the desktop hand-off is set up, and the command it runs."""
    _show_handler(handler_status(), as_json)


def _show_handler(status: HandlerStatus, as_json: bool) -> None:
    if as_json:
        emit_json(status.to_json())
        return
    if not status.installed:
        console.print("The desktop hand-off is not set up (`tollgate handler install`).")
        return
    default = "the default" if status.default else "installed but not the default"
    console.print(f"{status.desktop_file}: {default}; runs {status.command}")


@app.command("card")
@handled
def card_command(
    card: Annotated[str | None, typer.Option("--card", help="The new card's number.")] = None,
    expiry: Annotated[
        str | None, typer.Option("--expiry", help="The card's expiry, MM/YY.")
    ] = None,
    cvc: Annotated[
        str | None, typer.Option("--cvc", help="The 3 or 4 digits on the card's back.")
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace the card the store charges: sealed to the store, signed with your purchase key,
    checked by the store's payment gateway. A declined card keeps the old one."""
    account = find_account(G.home, store)
    number, month_year, code = gather(
        Field(card, "--card", "New card number", hidden=True),
        Field(expiry, "--expiry", "Expiry (MM/YY)"),
        Field(cvc, "--cvc", "CVC", hidden=True),
    )
    new = Card(*card_details(number, month_year, code))
    pk = unlock(account).purchase_key
    with StoreAPI(account.url) as api:
        summary = replace_card(G.home, api, account, pk, new)
    if as_json:
        emit_json({"store_id": account.store_id, "card": summary})
        return
    console.print(
        f"{account.store_name} now charges {summary.get('brand')} ****{summary.get('last4')} "
        f"(expires {summary.get('expiry')})"
    )
