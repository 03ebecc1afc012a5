"""The ``tollgate`` command. Exit status: 0 done; 2 usage; 3 refused by the store;
4 integrity or binding failure; 5 cannot reach the store."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.text import Text

from tollgate import __version__
from tollgate.cli.confirm import confirm
from tollgate.cli.output import console, emit_json, errors, fail, styled, transfer_progress
from tollgate.cli.store_commands import store_app
from tollgate.client.account import (
    Account,
    Unlocked,
    accounts,
    find_account,
    load_account,
    match_account,
)
from tollgate.client.addon_update import AddOnUpdate, apply_addon_update, plan_addon_updates
from tollgate.client.api import StoreAPI
from tollgate.client.card import Card, replace_card
from tollgate.client.catalog import account_catalog, browse
from tollgate.client.desktop import (
    HandlerStatus,
    handler_command,
    handler_status,
    install_handler,
    remove_handler,
)
from tollgate.client.errors import ClientError, IntegrityFailure, UsageError
from tollgate.client.handoff import HandOffPlan, account_for, plan_handoff, read_handed
from tollgate.client.install import Change, Plan, apply_plan, plan_install, recover
from tollgate.client.program import ProgramError, ProgramFolder
from tollgate.client.purchase import buy as buy_addon
from tollgate.client.registration import Registration
from tollgate.client.registration import register as register_customer
from tollgate.client.run import run_product
from tollgate.client.self_check import self_check
from tollgate.client.self_update import hand_off, handed_off, newer_than_running, update_client
from tollgate.client.sync import SyncReport, sync_store
from tollgate.crypto.keyfile import Binding, KeyFile
from tollgate.runtime import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    LicenceNotValid,
    ProductNotInstalled,
)
from tollgate.runtime.home import ClientHome
from tollgate.runtime.state import StateDamaged, price_terms
from tollgate.wire.problems import Exit
from tollgate.wire.text import clean

app = typer.Typer(
    help="Tollgate: a secure software store and its download program.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(store_app, name="store")
handler_app = typer.Typer(
    help="The desktop hand-off: the browser gives storefront downloads and tollgate:// links "
    "to `tollgate open`.",
    no_args_is_help=True,
)
app.add_typer(handler_app, name="handler")
F = TypeVar("F", bound=Callable[..., Any])
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL or id.")]
TrustOpt = Annotated[
    str | None, typer.Option("--trust", help="Expected store root fingerprint (SHA-256 hex).")
]


class Globals:
    home: ClientHome


G = Globals()


@app.callback()
def main(
    home: Annotated[
        Path | None, typer.Option("--home", envvar="TOLLGATE_HOME", help="The client's folder.")
    ] = None,
) -> None:
    G.home = ClientHome(home)


def handled(fn: F) -> F:
    """Turn client and runtime errors into one line on stderr and the documented status."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            raise fail(str(exc), int(exc.exit)) from exc
        except AddOnIntegrityError as exc:
            raise fail(str(exc), Exit.INTEGRITY) from exc
        except (AddOnNotLicensed, LicenceNotValid) as exc:
            raise fail(str(exc), Exit.REFUSED) from exc
        except ProductNotInstalled as exc:
            raise fail(str(exc), Exit.USAGE) from exc
        except StateDamaged as exc:
            raise fail(str(exc), Exit.INTEGRITY) from exc
        except ProgramError as exc:
            raise fail(
                f"the download program stays at {__version__}: {exc}", Exit.INTEGRITY
            ) from exc

    return wrapper  # type: ignore[return-value]


def interactive() -> bool:
    return sys.stdin.isatty()


def ask_password(confirm: bool) -> str:
    env = os.environ.get("TOLLGATE_PASSWORD")
    if env:
        return env
    if not interactive():
        raise UsageError("a password is needed: set TOLLGATE_PASSWORD (no terminal to ask on)")
    first = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise UsageError("the passwords differ")
    return first


def required(value: str | None, name: str, prompt: str) -> str:
    if value:
        return value
    if not interactive():
        raise UsageError(f"missing {name}")
    return str(typer.prompt(prompt))


def parse_expiry(text: str) -> tuple[int, int]:
    try:
        month, year = text.split("/")
        m, y = int(month), int(year)
    except ValueError as exc:
        raise UsageError("--expiry must look like MM/YY") from exc
    return m, (2000 + y if y < 100 else y)


@app.command()
@handled
def register(
    url: Annotated[str, typer.Argument(help="The store's URL.")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    country: Annotated[str | None, typer.Option("--country", help="ISO 3166 code, e.g. JP")] = None,
    card: Annotated[str | None, typer.Option("--card")] = None,
    expiry: Annotated[str | None, typer.Option("--expiry", help="MM/YY")] = None,
    cvc: Annotated[str | None, typer.Option("--cvc")] = None,
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
    person = (
        required(name, "--name", "Name"),
        required(email, "--email", "Email"),
        required(country, "--country", "Country (ISO code)").upper(),
    )
    number = required(card, "--card", "Card number")
    month, year = parse_expiry(required(expiry, "--expiry", "Expiry (MM/YY)"))
    details = Registration(*person, number, month, year, required(cvc, "--cvc", "CVC"))
    pw = ask_password(confirm=True) if password or bind.needs_password else None
    with StoreAPI(url) as api:
        done = register_customer(G.home, api, details, binding=bind, password=pw, trust=trust)
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
    expiry: Annotated[str | None, typer.Option("--expiry", help="MM/YY")] = None,
    cvc: Annotated[str | None, typer.Option("--cvc")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace the card the store charges: sealed to the store, signed with your purchase key,
    checked by the store's payment gateway. A declined card keeps the old one."""
    account = find_account(G.home, store)
    number = required(card, "--card", "New card number")
    month, year = parse_expiry(required(expiry, "--expiry", "Expiry (MM/YY)"))
    new = Card(number, month, year, required(cvc, "--cvc", "CVC"))
    pk = _unlock(account).purchase_key
    with StoreAPI(account.url) as api:
        summary = replace_card(G.home, api, account, pk, new)
    if as_json:
        emit_json({"store_id": account.store_id, "card": summary})
        return
    console.print(
        f"{account.store_name} now charges {summary.get('brand')} ****{summary.get('last4')} "
        f"(expires {summary.get('expiry')})"
    )


@app.command()
@handled
def catalog(store: StoreOpt = None, trust: TrustOpt = None, as_json: JsonOpt = False) -> None:
    """What the store sells, checked through the store's TUF metadata: from the root pinned at
    registration, or before registering (`--store URL`) from the root the store presents, whose
    fingerprint is shown (compare it with the vendor's, or pass `--trust`)."""
    account = match_account(G.home, store) if store else None
    if store and account is None and store.startswith(("http://", "https://")):
        with StoreAPI(store) as api:
            browsed = browse(api, trust)
        cat = browsed.catalog
        if not as_json:
            console.print(
                f"{browsed.store.name} (not registered here): root fingerprint "
                f"{browsed.root_fingerprint}"
            )
    else:
        account = account or find_account(G.home, store)
        with StoreAPI(account.url) as api:
            cat = account_catalog(api, G.home, account)
    if as_json:
        emit_json(cat.products)
        return
    for p in cat.products:
        console.print(
            Text.assemble(styled(p["name"], "bold"), f" {p['version']}  {clean(p['summary'])}")
        )
        for a in p["addons"]:
            price = "free" if a["price"] == 0 else f"{a['price']} {a['currency']}"
            console.print(
                f"    {a['name']:<12} {price:>12}  function {a['function']}, "
                f"revision {a['revision']}"
            )


def _recover() -> None:
    """Finish or roll back installs a crash interrupted, before anything else."""
    for line in recover(G.home):
        errors.print(f"recovered an interrupted install: {line}")


def _describe(
    name: str, installed: str | None, available: str, changes: Sequence[Change], fetch: int
) -> str:
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action] = counts.get(c.action, 0) + 1
    what = ", ".join(
        f"{counts[a]} {label}"
        for a, label in (
            ("add", "new"),
            ("change", "changed"),
            ("patch", "patched"),
            ("remove", "removed"),
            ("keep", "unchanged"),
        )
        if counts.get(a)
    )
    return (
        f"{name} {installed or '(not installed)'} -> {available}: {what} file(s); "
        f"{fetch:,} bytes to fetch"
    )


def _describe_plan(plan: Plan) -> str:
    if plan.up_to_date:
        return f"{plan.product} {plan.version} is up to date"
    return _describe(plan.product, plan.installed, plan.version, plan.changes, plan.fetch_bytes)


def _describe_addon(a: AddOnUpdate) -> str:
    name = f"{a.product} add-on {a.addon}"
    if a.up_to_date:
        return f"{name} {a.installed} is up to date"
    if a.new_revision:
        return (
            f"{name} stays at {a.installed}: {a.available} brings revision {a.revision}, a new "
            f"purchase (`tollgate buy {a.product} {a.addon}`)"
        )
    return _describe(name, a.installed, a.available, a.changes, a.fetch_bytes) + ", no charge"


@app.command()
@handled
def install(product: str, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Install (or update) a product's free core: only the files this machine needs, checked
    against the store's signed metadata."""
    account = find_account(G.home, store)
    _recover()
    with StoreAPI(account.url) as api:
        plan = plan_install(G.home, api, account, product)
        _keep_current(account, api, plan.listed.client_version, as_json)
        with transfer_progress(f"{product} core", not as_json and not plan.up_to_date) as bar:
            done = apply_plan(G.home, api, plan, bar)
    if as_json:
        emit_json({**plan.to_json(), "path": str(done.path), "fetched": done.fetched_bytes})
        return
    if plan.listed.notice and not plan.up_to_date:
        console.print(
            Text.assemble(
                styled(f"{product} {plan.version}:", "bold"), " ", clean(plan.listed.notice)
            )
        )
    console.print(f"Installed {product} {done.version} in {done.path}")


@app.command()
@handled
def update(
    product: Annotated[str | None, typer.Argument(help="One product; all when omitted.")] = None,
    store: StoreOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring installed products up to date: only new or changed files are fetched."""
    only_store = find_account(G.home, store).store_id if store else None
    installed = [
        p for p in G.home.state.products(product) if only_store is None or p.store_id == only_store
    ]
    if product and not installed:
        raise UsageError(f"{product} is not installed: `tollgate install {product}`")
    if not dry_run:
        _recover()
    report = []
    for p in installed:
        account = load_account(G.home, p.store_id)
        with StoreAPI(account.url) as api:
            plan = plan_install(G.home, api, account, p.name)
            if not dry_run:
                _keep_current(account, api, plan.listed.client_version, as_json)
            if not as_json:
                console.print(_describe_plan(plan))
                if plan.listed.notice and not plan.up_to_date:
                    console.print(f"  notice: {plan.listed.notice}")
            entry = plan.to_json()
            if not dry_run and not plan.up_to_date:
                with transfer_progress(f"{p.name} {plan.version}", not as_json) as bar:
                    done = apply_plan(G.home, api, plan, bar)
                entry["fetched"] = done.fetched_bytes
                if not as_json:
                    console.print(f"Updated {p.name} to {done.version} in {done.path}")
            entry["addons"] = _update_addons(api, account, plan, dry_run, as_json)
            report.append(entry)
    if as_json:
        emit_json(report)
    elif not installed:
        console.print("Nothing installed.")


def _keep_current(account: Account, api: StoreAPI, listed: str | None, as_json: bool) -> None:
    """When the store names a newer download program: install it beside this one, switch to
    it, and hand it this very command, which it carries out. A failed update is reported and
    this version carries on."""
    version = None if handed_off() else newer_than_running(listed)
    if version is None:
        return
    folder = ProgramFolder.running()
    if folder is None:
        if not as_json:
            errors.print(
                f"the download program {version} is out (this is {__version__}); this copy was "
                "not installed by a store's installer: update it the way it was installed"
            )
        return
    try:
        done = update_client(folder, account.trust(api, G.home), version)
    except (ClientError, ProgramError) as exc:
        errors.print(f"the download program stays at {__version__}: {exc}")
        return
    errors.print(f"updated the download program {done.previous} -> {done.version}; it carries on")
    raise typer.Exit(hand_off(folder, sys.argv[1:]))


@app.command("self-update")
@handled
def self_update(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Update the download program itself to the store's latest release, checked against the
    store's signed metadata (install, update and open do this on their own)."""
    folder = ProgramFolder.running()
    if folder is None:
        raise UsageError(
            "this copy of tollgate was not installed by a store's installer (it has no "
            "download1/download2 slots): update it the way it was installed"
        )
    account = find_account(G.home, store)
    with StoreAPI(account.url) as api:
        try:
            listed = json.loads(api.get_bytes("/v1/store"))["client"]["version"]
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityFailure("the store does not name its download program") from exc
        version = newer_than_running(listed if isinstance(listed, str) else None)
        done = (
            None if version is None else update_client(folder, account.trust(api, G.home), version)
        )
    if as_json:
        updated = None if done is None else done.to_json()
        emit_json({"running": __version__, "latest": listed, "updated": updated})
    elif done is None:
        console.print(f"The download program {__version__} is up to date")
    else:
        console.print(
            f"Updated the download program {done.previous} -> {done.version} ({done.slot})"
        )


@app.command("self-check", hidden=True)
def self_check_command(as_json: JsonOpt = False) -> None:
    """What a new version must answer before the launcher switches to it."""
    result = self_check()
    if as_json:
        emit_json(result)
    else:
        console.print(f"tollgate {result['version']} from {result['package']}: ok")


def _update_addons(
    api: StoreAPI, account: Account, plan: Plan, dry_run: bool, as_json: bool
) -> list[dict[str, Any]]:
    """Bring the product's bought add-ons to its current release where that is free."""
    updates = plan_addon_updates(G.home, account.store_id, plan.listed)
    report = []
    keys: Unlocked | None = None
    for a in updates:
        if not as_json:
            console.print("  " + _describe_addon(a))
        entry = a.to_json()
        if not dry_run and not a.up_to_date and not a.new_revision:
            keys = keys or _unlock(account)
            with transfer_progress(f"{a.addon} {a.available}", not as_json) as bar:
                done = apply_addon_update(G.home, api, account, keys, a, bar)
            entry["fetched"] = done.fetched_bytes
            if not as_json:
                console.print(f"  Updated add-on {a.addon} to {done.version}")
        report.append(entry)
    return report


def _unlock(account: Account) -> Unlocked:
    """The account's keys, asking for its password when it has one and none was given."""
    password = os.environ.get("TOLLGATE_PASSWORD")
    if password is None and _has_password(account):
        password = ask_password(confirm=False)
    return account.unlock(G.home, password)


@app.command()
@handled
def buy(
    product: str,
    addon: str,
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Buy an add-on with the card on file: charged once, delivered encrypted."""
    account = find_account(G.home, store)
    with StoreAPI(account.url) as api:
        cat = account_catalog(api, G.home, account)
        info = cat.addon(product, addon)
        confirm(f"Buy {product} {addon} for {_terms(info)}?", yes=yes)
        keys = _unlock(account)
        with transfer_progress(f"{product} {addon}", not as_json) as bar:
            done = buy_addon(G.home, api, account, cat, product, addon, keys=keys, progress=bar)
    if as_json:
        emit_json(done.__dict__)
    else:
        per_use = f"; each use {info['per_use']} {done.currency}" if info.get("per_use") else ""
        console.print(
            f"Bought {product} {addon}: {done.amount} {done.currency}{per_use} "
            f"(order {done.order_id}); {done.files} file(s) in the vault, encrypted"
        )


@app.command("open")
@handled
def open_(
    what: Annotated[
        str, typer.Argument(help="An install-list file from the storefront, or a tollgate:// link.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Do what a storefront button asked: install a product, or buy an add-on (installing the
    product first). What the file or link says is checked against the store's signed metadata,
    shown with its price, and confirmed before anything is bought. The desktop runs this when
    the browser hands over a download or a link (`tollgate handler install`)."""
    handed = read_handed(what)
    account = account_for(G.home, handed)
    _recover()
    with StoreAPI(account.url) as api:
        plan = plan_handoff(G.home, api, account, handed)
        _keep_current(account, api, plan.install.listed.client_version, as_json)
        question = _describe_handoff(account, plan)
        if not as_json:
            console.print(question)
        if plan.buys or not plan.install.up_to_date:
            confirm("Go ahead?" if not plan.buys else f"Pay {plan.terms}?", yes=yes)
        report: dict[str, Any] = plan.to_json()
        if not plan.install.up_to_date:
            label = f"{plan.install.product} {plan.install.version}"
            with transfer_progress(label, not as_json) as bar:
                done = apply_plan(G.home, api, plan.install, bar)
            report["installed"] = {"path": str(done.path), "fetched": done.fetched_bytes}
            if not as_json:
                console.print(f"Installed {done.product} {done.version} in {done.path}")
        if plan.buys and plan.handoff.addon is not None and plan.catalog is not None:
            product, addon, cat = plan.handoff.product, plan.handoff.addon, plan.catalog
            keys = _unlock(account)
            with transfer_progress(f"{product} {addon}", not as_json) as bar:
                bought = buy_addon(
                    G.home, api, account, cat, product, addon, keys=keys, progress=bar
                )
            report["bought"] = bought.__dict__
            if not as_json:
                console.print(
                    f"Bought {product} {addon}: {bought.amount} {bought.currency} "
                    f"(order {bought.order_id}); {bought.files} file(s) in the vault, encrypted"
                )
    if as_json:
        emit_json(report)


def _describe_handoff(account: Account, plan: HandOffPlan) -> str:
    lines = [
        f"From {account.store_name} ({account.store_id}):",
        "  " + _describe_plan(plan.install),
    ]
    if plan.offer is not None:
        name = f"{plan.handoff.product} add-on {plan.handoff.addon}"
        lines.append(f"  {name}: already yours" if plan.owned else f"  buy {name}: {plan.terms}")
    return "\n".join(lines)


def _terms(addon: dict[str, Any]) -> str:
    return price_terms(int(addon["price"]), str(addon["currency"]), addon.get("per_use"))


def _has_password(account: Account) -> bool:
    kf = KeyFile.from_bytes(G.home.keyfile_path(account.store_id).read_bytes())
    return kf.argon2 is not None


@app.command("list")
@handled
def list_installed(
    files: Annotated[bool, typer.Option("--files", help="List every installed file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """What is installed, which add-ons are bought, and (with --files) every file."""
    state = G.home.state
    products: list[dict[str, Any]] = []
    for p in state.products():
        addons = state.addons(p.store_id, p.name)
        products.append(
            {
                "store_id": p.store_id,
                "name": p.name,
                "version": p.version,
                "path": str(p.path),
                "entry": p.entry,
                "installed_at": p.installed_at,
                "addons": {
                    n: {"version": a.version, "licence_id": a.licence_id, "revision": a.revision}
                    for n, a in addons.items()
                },
                "files": [
                    {
                        "kind": f.kind,
                        "addon": f.addon,
                        "name": f.name,
                        "version": f.version,
                        "function": f.function,
                        "revision": f.revision,
                        "path": str(f.path),
                        "digest": f.digest,
                        "size": f.size,
                        "licence_id": f.licence_id,
                    }
                    for f in state.files(p.store_id, p.name)
                ],
            }
        )
    if as_json:
        emit_json(products)
        return
    if not products:
        console.print("Nothing installed.")
    for entry in products:
        bought = ", ".join(f"{n} {a['version']}" for n, a in entry["addons"].items())
        console.print(
            Text.assemble(
                styled(entry["name"], "bold"),
                clean(f" {entry['version']}  add-ons: {bought or 'none'}"),
            )
        )
        for f in entry["files"] if files else []:
            where = "vault" if f["kind"] == "add-on" else "core"
            console.print(f"    {where:<5} {f['name']:<40} {f['size']:>10,}  {f['digest'][:12]}")


@app.command()
@handled
def history(
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50, as_json: JsonOpt = False
) -> None:
    """What was installed, updated, bought and rolled back, newest first."""
    rows = G.home.state.history(limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        console.print(f"{r['at']}  {r['action']:<11} {r['product']} {r['version']}  {r['detail']}")


@app.command()
@handled
def sync(
    store: StoreOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No output; skip accounts that need a password.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send the metered uses recorded here and renew the leases of the licences held (a refund
    or a stop takes effect now). Core software starts this in the background after a use and
    when a lease is half used."""
    chosen = [find_account(G.home, store)] if store else accounts(G.home)
    reports: list[SyncReport] = []
    failed: list[str] = []
    for account in chosen:
        if quiet and _has_password(account) and "TOLLGATE_PASSWORD" not in os.environ:
            continue
        try:
            with StoreAPI(account.url) as api:
                reports.append(sync_store(G.home, api, account, _unlock(account)))
        except ClientError as exc:
            failed.append(f"{account.store_name}: {exc}")
            if not quiet and not as_json:
                errors.print(Text.assemble(styled(account.store_name, "red"), clean(f": {exc}")))
    if as_json:
        emit_json({"stores": [r.to_json() for r in reports], "failed": failed})
    elif not quiet:
        for r in reports:
            console.print(
                f"{r.store_id}: {len(r.renewed)} licence(s) renewed"
                + (f" until {r.renew_by[:10]}" if r.renew_by else "")
                + "".join(f"; {n} use(s) {status}" for status, n in sorted(r.uses.items()))
                + "".join(f"; {g['order_id']} removed ({g['reason']})" for g in r.revoked)
            )
            for h in r.held:
                errors.print(
                    Text.assemble(
                        styled(f"{h['order_id']} not renewed", "yellow"), ": ", clean(h["detail"])
                    )
                )
    if failed:
        raise typer.Exit(int(Exit.UNREACHABLE))
    if any(r.held for r in reports):
        raise typer.Exit(int(Exit.REFUSED))


@app.command()
@handled
def usage(as_json: JsonOpt = False) -> None:
    """Metered uses recorded here: queued (not sent yet), charged, recorded, declined."""
    uses = G.home.state.uses()
    charged: dict[str, int] = {}
    for u in uses:
        if u.status == "charged":
            charged[u.currency] = charged.get(u.currency, 0) + u.amount
    counts = {s: sum(u.status == s for u in uses) for s in ("queued", "declined")}
    if as_json:
        emit_json({"uses": [u.__dict__ for u in uses], "charged": charged, **counts})
        return
    for u in uses:
        price = f"{u.amount} {u.currency}" if u.amount else "-"
        console.print(
            f"{u.at[:19]}  {u.product} {u.addon} {u.name:<14} {u.status:<9} {price:>10}  "
            f"{u.event_id}"
        )
    total = ", ".join(f"{n} {c}" for c, n in sorted(charged.items())) or "nothing"
    console.print(
        f"{len(uses)} use(s); charged {total}; {counts['queued']} queued, "
        f"{counts['declined']} declined"
        + (" (run `tollgate sync` once the card works)" if counts["declined"] else "")
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handled
def run(ctx: typer.Context, product: str, store: StoreOpt = None) -> None:
    """Run a product's core software; bought add-ons are opened in memory."""
    store_id = find_account(G.home, store).store_id if store else None
    raise typer.Exit(run_product(G.home, product, list(ctx.args), store_id=store_id))


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the demo's files here.")] = None,
) -> None:
    """The whole story end to end, on loopback, in a temporary folder."""
    from tollgate.cli.demo import run_demo

    raise typer.Exit(run_demo(keep))


def entrypoint() -> None:
    app()
