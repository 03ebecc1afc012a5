"""``tollgate buy``, ``open``, ``list``, ``history``, ``sync``, ``usage`` and ``run``: buying,
holding and using add-ons."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.text import Text

from tollgate.cli.common import (
    G,
    JsonOpt,
    StoreOpt,
    app,
    handled,
    has_password,
    unlock,
)
from tollgate.cli.confirm import confirm
from tollgate.cli.install_commands import describe_plan, keep_current, recover_interrupted
from tollgate.cli.output import console, emit_json, errors, styled, transfer_progress
from tollgate.client.account import (
    Account,
    Unlocked,
    accounts,
    find_account,
)
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.errors import ClientError, Refused
from tollgate.client.handoff import (
    HandOffPlan,
    account_for,
    plan_handoff,
    plan_purchase,
    read_handed,
)
from tollgate.client.install import apply_plan
from tollgate.client.purchase import (
    KeptOrder,
    Purchase,
    forget_orders_of,
    held_at_store,
    unfinished_orders,
)
from tollgate.client.purchase import buy as buy_addon
from tollgate.client.run import run_product
from tollgate.client.sync import SyncReport, sync_store
from tollgate.wire.addons import format_amount
from tollgate.wire.problems import Exit
from tollgate.wire.text import clean, human_size


@app.command()
@handled
def buy(
    product: Annotated[str, typer.Argument(help="The product, as the catalog names it.")],
    addon: Annotated[str, typer.Argument(help="The add-on to buy.")],
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Buy an add-on with the card on file: charged once, delivered encrypted. The product's
    free core is installed first when it is not here; an add-on already yours is not charged
    again; a purchase whose download was cut off is finished without a new charge."""
    account = find_account(G.home, store)
    recover_interrupted()
    keys = _keys_once(account)
    with StoreAPI(account.url) as api:
        ask = _asking(api, account, keys, product, addon)
        plan = plan_purchase(G.home, api, account, product, addon, ask)
        if plan.install is not None:
            keep_current(account, api, plan.install.listed.client_version, as_json)
        report = _carry_out(api, account, plan, keys, yes=yes, as_json=as_json, asks=False)
    if as_json:
        emit_json(report)


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
    recover_interrupted()
    keys = _keys_once(account)
    with StoreAPI(account.url) as api:
        ask = _asking(api, account, keys, handed.handoff.product, handed.handoff.addon or "")
        plan = plan_handoff(G.home, api, account, handed, ask)
        if plan.install is not None:
            keep_current(account, api, plan.install.listed.client_version, as_json)
        report = _carry_out(api, account, plan, keys, yes=yes, as_json=as_json, asks=True)
    if as_json:
        emit_json(report)


def _keys_once(account: Account) -> Callable[[], Unlocked]:
    """The account's keys, unlocked (asking for a password) once, when first needed."""
    return functools.cache(lambda: unlock(account))


def _asking(
    api: StoreAPI, account: Account, keys: Callable[[], Unlocked], product: str, addon: str
) -> Callable[[str], KeptOrder | None]:
    """How a plan asks the store what the customer holds of a release of the add-on."""

    def ask(version: str) -> KeptOrder | None:
        signer = Signer(account.customer_id, keys().purchase_key)
        try:
            return held_at_store(api, account, signer, product, addon, version)
        except Refused as exc:
            if exc.code == "refunded":  # what was kept of it here no longer stands
                forget_orders_of(G.home, account, product, addon)
            raise

    return ask


def _carry_out(
    api: StoreAPI,
    account: Account,
    plan: HandOffPlan,
    keys: Callable[[], Unlocked],
    *,
    yes: bool,
    as_json: bool,
    asks: bool,
) -> dict[str, Any]:
    """Say what will happen, ask before money moves, then install the core and fetch the
    add-on, as ``buy`` and ``open`` both do; the report ``--json`` prints. A hand-off (``open``,
    which a web page can start) also asks before it installs anything; ``buy``, typed by the
    customer, installs a free core without asking."""

    def say(line: str) -> None:
        if not as_json:
            console.print(line)

    for line in _describe(account, plan):
        say(line)
    product, addon = plan.handoff.product, plan.handoff.addon
    if plan.buys:
        confirm(f"Pay {plan.terms}?", yes=yes, nothing="nothing was bought or charged")
    elif plan.installs and asks:
        confirm("Go ahead?", yes=yes)
    report: dict[str, Any] = {**plan.to_json(), "charged_now": 0}
    if plan.install is not None and plan.installs:
        label = f"{plan.install.product} {plan.install.version}"
        with transfer_progress(label, not as_json) as bar:
            done = apply_plan(G.home, api, plan.install, bar)
        report["installed"] = {"path": str(done.path), "fetched": done.fetched_bytes}
        say(f"Installed {done.product} {done.version} in {done.path}")
    if plan.fetches_addon and addon is not None and plan.catalog is not None:
        with transfer_progress(f"{product} {addon}", not as_json) as bar:
            bought = buy_addon(
                G.home,
                api,
                account,
                plan.catalog,
                product,
                addon,
                keys=keys(),
                progress=bar,
                held=plan.earlier,
            )
        report["bought"] = bought.to_json()
        report["charged_now"] = bought.charged_now
        say(_bought(product, addon, bought, plan.offer or {}))
    return report


def _describe(account: Account, plan: HandOffPlan) -> list[str]:
    """What is about to happen, in the order it happens; nothing when only money would move
    (the question names it)."""
    lines = []
    name = f"{plan.handoff.product} {plan.handoff.addon}"
    if plan.install is not None:
        core = describe_plan(plan.install)
        if plan.install.installed is None and plan.offer is not None:
            files = sum(c.action != "keep" for c in plan.install.changes)
            core = (
                f"{plan.handoff.product} is not installed: its free core "
                f"{plan.install.version} comes first ({files} file(s), "
                f"{human_size(plan.install.fetch_bytes)})"
            )
        lines.append(core)
    if plan.offer is not None and plan.owned and _free(plan.offer):
        lines.append(f"{name} is free: it comes with {plan.handoff.product}'s core")
    elif plan.offer is not None and plan.owned:
        lines.append(f"{name} is already yours: nothing charged")
    elif plan.earlier is not None:
        lines.append(
            f"{name}: paid for already ({plan.earlier.paid}); finishing its download, nothing "
            "more will be charged"
        )
    elif plan.offer is not None:
        lines.append(f"Buy {name} from {account.store_name}: {plan.terms}")
    return lines


def _free(offer: dict[str, Any]) -> bool:
    return int(offer["price"]) == 0 and not offer.get("per_use")


def _bought(product: str, addon: str, bought: Purchase, offer: dict[str, Any]) -> str:
    per_use = (
        f"; each use {format_amount(offer['per_use'], bought.currency)}"
        if offer.get("per_use")
        else ""
    )
    paid = (
        f"finished order {bought.order_id} (paid earlier; nothing charged now)"
        if bought.finished_earlier_order
        else f"{format_amount(bought.amount, bought.currency)}{per_use} (order {bought.order_id})"
    )
    return f"Bought {product} {addon}: {paid}; {bought.files} file(s) in the vault, encrypted"


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
    unfinished = [
        {
            "store_id": account.store_id,
            "product": kept.licence.product,
            "addon": kept.licence.addon,
            "version": kept.licence.version,
            "order_id": kept.licence.order_id,
        }
        for account in accounts(G.home)
        for kept in unfinished_orders(G.home, account)
    ]
    for entry in products:  # paid for here, download unfinished (`tollgate buy` finishes it)
        entry["unfinished"] = [
            {k: u[k] for k in ("addon", "version", "order_id")}
            for u in unfinished
            if (u["store_id"], u["product"]) == (entry["store_id"], entry["name"])
        ]
    if as_json:
        emit_json(products)
        return
    if not products:
        console.print("Nothing installed.")
    for u in unfinished:
        console.print(
            f"{u['product']} {u['addon']}: paid (order {u['order_id']}), its download "
            f"unfinished: `tollgate buy {u['product']} {u['addon']}` finishes it, no new charge"
        )
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
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="How many entries, newest first.")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """What was installed, updated, bought and rolled back, newest first; a purchase with its
    order and what it cost."""
    rows = G.home.state.history(limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("Nothing yet: `tollgate install PRODUCT` starts the history.")
    for r in rows:
        paid = f"  {format_amount(r['amount'], r['currency'])}" if r["currency"] else ""
        console.print(
            f"{r['at'][:19]}  {r['action']:<11} {r['product']} {r['version']}  {r['detail']}{paid}"
        )


SYNC_SEVERITY = (Exit.INTEGRITY, Exit.REFUSED, Exit.USAGE, Exit.UNREACHABLE)


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
    failed: list[dict[str, Any]] = []
    for account in chosen:
        if quiet and has_password(account) and "TOLLGATE_PASSWORD" not in os.environ:
            continue
        try:
            with StoreAPI(account.url) as api:
                reports.append(sync_store(G.home, api, account, unlock(account)))
        except ClientError as exc:
            failed.append(
                {
                    "store_id": account.store_id,
                    "store": account.store_name,
                    "detail": str(exc),
                    "code": exc.code,
                    "exit": int(exc.exit),
                }
            )
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
    if failed:  # the gravest failure's status: a check that failed outranks an outage
        statuses = {f["exit"] for f in failed}
        gravest = next(e for e in SYNC_SEVERITY if int(e) in statuses or e == Exit.UNREACHABLE)
        raise typer.Exit(int(gravest))
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
        listed = [{**u.__dict__, "used_at": u.at} for u in uses]
        for entry in listed:
            del entry["at"]  # one name for a use's time, as the store's listing has it
        emit_json({"uses": listed, "charged": charged, **counts})
        return
    if not uses:
        console.print("No metered uses recorded here.")
        return
    for u in uses:
        price = format_amount(u.amount, u.currency) if u.amount else "-"
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
def run(
    ctx: typer.Context,
    product: Annotated[str, typer.Argument(help="The installed product to run.")],
    store: StoreOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Report a failure to start as JSON.")
    ] = False,
) -> None:
    """Run a product's core software; bought add-ons are opened in memory. Everything after
    `--` goes to the product: `tollgate run MT -- the old river` runs MT with the words "the
    old river". The exit status is the product's own."""
    store_id = find_account(G.home, store).store_id if store else None
    raise typer.Exit(run_product(G.home, product, list(ctx.args), store_id=store_id))
