"""``tollgate catalog``, ``install``, ``update``, ``self-update`` and ``self-check``: what is
installed, and bringing it up to date."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.text import Text

from tollgate.cli.common import (
    G,
    JsonOpt,
    StoreOpt,
    TrustOpt,
    app,
    handled,
    unlock,
)
from tollgate.cli.output import console, emit_json, errors, styled, transfer_progress
from tollgate.client import __version__
from tollgate.client.account import (
    Account,
    Unlocked,
    find_account,
    load_account,
    match_account,
)
from tollgate.client.addon_update import AddOnUpdate, apply_addon_update, plan_addon_updates
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog, browse
from tollgate.client.errors import ClientError, IntegrityFailure, UsageError
from tollgate.client.install import Change, Plan, apply_plan, plan_install, recover
from tollgate.client.program import ProgramError, ProgramFolder
from tollgate.client.self_check import self_check
from tollgate.client.self_update import hand_off, handed_off, newer_than_running, update_client
from tollgate.client.uninstall import uninstall as remove_product
from tollgate.wire.addons import price_terms
from tollgate.wire.text import clean, did_you_mean, human_size


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
        shop: dict[str, str | bool] = {
            "store_id": browsed.store.store_id,
            "name": browsed.store.name,
            "url": api.base_url,
            "root_fingerprint": browsed.root_fingerprint,
            "registered": False,
        }
    else:
        account = account or find_account(G.home, store)
        with StoreAPI(account.url) as api:
            cat = account_catalog(api, G.home, account)
        shop = {
            "store_id": account.store_id,
            "name": account.store_name,
            "url": account.url,
            "root_fingerprint": account.root_fingerprint,
            "registered": True,
        }
    products = [_with_what_is_here(cat.store_id, p) for p in cat.products]
    if as_json:
        emit_json({"store": shop, "products": products})
        return
    here = "registered here" if shop["registered"] else "not registered here"
    console.print(
        Text.assemble(styled(str(shop["name"]), "bold"), clean(f" ({shop['store_id']}, {here})"))
    )
    console.print(f"Root fingerprint (SHA-256): {shop['root_fingerprint']}")
    if not products:
        console.print("This store sells nothing yet.")
    for p in products:
        console.print()
        for line in _product_lines(p):
            console.print(line)


def _with_what_is_here(store_id: str, product: dict[str, Any]) -> dict[str, Any]:
    """A catalog product with what this machine has of it: the installed version, and for
    each add-on its terms in words, its size, and whether it is already the customer's."""
    installed = G.home.state.product(store_id, str(product["name"]))
    held = G.home.state.addons(store_id, str(product["name"]))
    addons = []
    for a in product["addons"]:
        mine = held.get(str(a["name"]))
        free = int(a["price"]) == 0 and not a.get("per_use")
        addons.append(
            {
                **a,
                "terms": price_terms(int(a["price"]), str(a["currency"]), a.get("per_use")),
                "size": sum(int(f["size"]) for f in a["files"]),
                "owned": mine is not None and mine.revision == int(a["revision"]),
                "included": free and installed is not None,  # free: it comes with the core
            }
        )
    return {
        **product,
        "addons": addons,
        "core_size": sum(int(f["size"]) for f in product["core"]),
        "installed": None if installed is None else installed.version,
    }


def _product_lines(p: dict[str, Any]) -> list[Text | str]:
    """A product as the storefront shows it: name, version, summary, what is installed, and
    its add-ons in aligned columns (name, terms, size, yours)."""
    here = f"installed {p['installed']}" if p["installed"] else "not installed"
    lines: list[Text | str] = [
        Text.assemble(styled(str(p["name"]), "bold"), clean(f" {p['version']}  {p['summary']}")),
        f"  free core, {human_size(p['core_size'])}; {here}",
    ]
    rows = [
        (
            str(a["name"]),
            str(a["terms"]),
            human_size(a["size"]),
            "yours" if a["owned"] else "included" if a["included"] else "",
        )
        for a in p["addons"]
    ]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(clean(("  " + "  ".join([*cells, row[3]])).rstrip()))
    return lines


def recover_interrupted() -> None:
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
        f"{human_size(fetch)} to fetch"
    )


def describe_plan(plan: Plan) -> str:
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
def install(
    product: Annotated[str, typer.Argument(help="The product, as the catalog names it.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Install (or update) a product's free core: only the files this machine needs, checked
    against the store's signed metadata."""
    account = find_account(G.home, store)
    recover_interrupted()
    with StoreAPI(account.url) as api:
        plan = plan_install(G.home, api, account, product)
        keep_current(account, api, plan.listed.client_version, as_json)
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
def uninstall(
    product: Annotated[str, typer.Argument(help="The installed product to remove.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a product's core from this machine. Bought add-ons stay bought (and encrypted in
    the vault): `tollgate install PRODUCT` brings the product back with them, at no charge."""
    found = [
        p
        for p in G.home.state.products(product)
        if store is None or p.store_id == find_account(G.home, store).store_id
    ]
    if not found:
        names = [p.name for p in G.home.state.products()]
        raise UsageError(f"{product} is not installed{did_you_mean(product, names)}")
    if len(found) > 1:
        raise UsageError(f"{product} is installed from several stores: choose one with --store")
    done = remove_product(G.home, found[0].store_id, product)
    if as_json:
        emit_json(done.to_json())
        return
    console.print(f"Uninstalled {done.product} {done.version} ({done.files} file(s) removed)")
    if done.kept_addons:
        console.print(
            f"Still yours: {', '.join(done.kept_addons)} (kept encrypted in the vault); "
            f"`tollgate install {product}` brings {product} back with them, at no charge"
        )


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
        recover_interrupted()
    report = []
    for p in installed:
        account = load_account(G.home, p.store_id)
        with StoreAPI(account.url) as api:
            plan = plan_install(G.home, api, account, p.name)
            if not dry_run:
                keep_current(account, api, plan.listed.client_version, as_json)
            if not as_json:
                console.print(describe_plan(plan))
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


def keep_current(account: Account, api: StoreAPI, listed: str | None, as_json: bool) -> None:
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
            keys = keys or unlock(account)
            with transfer_progress(f"{a.addon} {a.available}", not as_json) as bar:
                done = apply_addon_update(G.home, api, account, keys, a, bar)
            entry["fetched"] = done.fetched_bytes
            if not as_json:
                console.print(f"  Updated add-on {a.addon} to {done.version}")
        report.append(entry)
    return report
