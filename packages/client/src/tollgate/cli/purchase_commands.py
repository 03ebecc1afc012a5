"""``tollgate buy``, ``open``, ``list``, ``history``, ``sync``, ``usage`` and ``run``: buying,
holding and using add-ons."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.text import Text

from tollgate.cli.common import (
    G,
    JsonOpt,
    StoreOpt,
    app,
    ask_password,
    handled,
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
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.errors import ClientError
from tollgate.client.handoff import HandOffPlan, account_for, plan_handoff, read_handed
from tollgate.client.install import apply_plan
from tollgate.client.purchase import buy as buy_addon
from tollgate.client.run import run_product
from tollgate.client.sync import SyncReport, sync_store
from tollgate.crypto.keyfile import KeyFile
from tollgate.wire.addons import price_terms
from tollgate.wire.problems import Exit
from tollgate.wire.text import clean


def unlock(account: Account) -> Unlocked:
    """The account's keys, asking for its password when it has one and none was given."""
    password = os.environ.get("TOLLGATE_PASSWORD")
    if password is None and has_password(account):
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
        keys = unlock(account)
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
    recover_interrupted()
    with StoreAPI(account.url) as api:
        plan = plan_handoff(G.home, api, account, handed)
        keep_current(account, api, plan.install.listed.client_version, as_json)
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
            keys = unlock(account)
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
        "  " + describe_plan(plan.install),
    ]
    if plan.offer is not None:
        name = f"{plan.handoff.product} add-on {plan.handoff.addon}"
        lines.append(f"  {name}: already yours" if plan.owned else f"  buy {name}: {plan.terms}")
    return "\n".join(lines)


def _terms(addon: dict[str, Any]) -> str:
    return price_terms(int(addon["price"]), str(addon["currency"]), addon.get("per_use"))


def has_password(account: Account) -> bool:
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
        if quiet and has_password(account) and "TOLLGATE_PASSWORD" not in os.environ:
            continue
        try:
            with StoreAPI(account.url) as api:
                reports.append(sync_store(G.home, api, account, unlock(account)))
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
