"""``tollgate store ...``: the vendor's commands."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tollgate.cli.common import handled
from tollgate.cli.confirm import confirm
from tollgate.cli.output import console, emit_json, publish_progress
from tollgate.client.errors import UsageError
from tollgate.runtime.errors import explain_os_error
from tollgate.store.admin_sessions import AdminSessions
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder, StoreFolderError
from tollgate.store.manifest import ManifestError
from tollgate.store.publish_guard import PublishRefused
from tollgate.store.repository import ROTATABLE
from tollgate.store.server import PortInUse, listen, serve_forever
from tollgate.store.services import admin
from tollgate.store.services.errors import StoreError
from tollgate.store.services.release_plan import ReleasePlan
from tollgate.wire.addons import format_amount
from tollgate.wire.text import human_size

store_app = typer.Typer(
    help="Run a store: create it, publish products, serve, watch sales.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
DirArg = Annotated[Path, typer.Argument(help="The store folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")]


F = TypeVar("F", bound=Callable[..., Any])


def vendor_command(fn: F) -> F:
    """What every ``tollgate store`` command reports the way ``tollgate``'s do (`handled`: one
    line or a ``--json`` problem, the README's exit status, no traceback): the store's own
    failures too — a store folder, manifest or publish refused, a service's error, a database
    that cannot be opened."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (StoreFolderError, ManifestError, PublishRefused) as exc:
            raise UsageError(str(exc)) from exc
        except StoreError as exc:
            raise UsageError(exc.detail, code=exc.code) from exc
        except DBAPIError as exc:
            raise UsageError(
                f"the store's database cannot be used ({exc.orig}): check database_url in "
                "store.toml, that the database server runs, and that the folder is writable"
            ) from exc

    return handled(wrapper)  # type: ignore[return-value]


def _folder(path: Path) -> StoreFolder:
    folder = StoreFolder(path)
    _ = folder.config  # StoreFolderError: not a store folder, or its database is missing
    return folder


@store_app.command("init")
@vendor_command
def init(
    directory: DirArg,
    name: Annotated[
        str, typer.Option("--name", help="The store's name, as customers see it.")
    ] = "Tollgate Store",
    database: Annotated[
        str | None,
        typer.Option("--database", help="SQLAlchemy URL; default: SQLite in the folder."),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="The URL customers reach the store at (behind a proxy); default: where "
            "`store serve` listens.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a store folder: config, fresh keys, database."""
    try:
        folder = StoreFolder.create(
            directory, name=name, database_url=database, public_url=public_url
        )
        open_store(folder).close()  # runs the migrations
    except StoreFolderError as exc:
        raise UsageError(str(exc)) from exc
    cfg = folder.config
    token = folder.issue_admin_token()
    if as_json:
        emit_json(
            {
                "store_id": cfg.store_id,
                "name": cfg.name,
                "path": str(folder.path),
                "database_url": cfg.database_url,
                "admin_token": token,
            }
        )
        return
    console.print(f"Created store {cfg.name} ({cfg.store_id}) in {folder.path}")
    console.print(
        f"Keys are in {folder.keys_dir}: keep that folder private and backed up. "
        "This embedded setup keeps every key there; see docs/architecture.md."
    )
    console.print(
        f"Admin pages: /admin on the served store; admin token (shown once, only its hash is "
        f"kept): {token}"
    )


@store_app.command("admin-token")
@vendor_command
def admin_token(directory: DirArg, as_json: JsonOpt = False) -> None:
    """Issue a new admin token for the admin pages: the old one stops working and every
    signed-in browser is signed out."""
    folder = _folder(directory)
    ctx = open_store(folder)
    token = folder.issue_admin_token()
    ended = AdminSessions(ctx.sessions, ctx.clock).end_all()
    ctx.close()
    if as_json:
        emit_json({"admin_token": token, "sessions_ended": ended})
        return
    console.print(f"New admin token (shown once): {token}; {ended} session(s) ended")


@store_app.command("rotate-keys")
@vendor_command
def rotate_keys(
    directory: DirArg,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help=f"A role to rotate ({', '.join(ROTATABLE)}); default: all."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """New TUF keys: a new root version signed by the old and new root keys, so registered
    customers move to the new keys at their next refresh, without registering again. A running
    `store serve` picks the new keys up by itself."""
    roles = role or list(ROTATABLE)
    ctx = open_store(_folder(directory))
    try:
        version, retired = ctx.rotate_keys(roles)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        ctx.close()
    if as_json:
        emit_json({"root_version": version, "roles": roles, "retired_keys": retired})
        return
    console.print(
        f"Rotated {', '.join(roles)}: root version {version}, {len(retired)} key(s) retired. "
        "Customers trust the new keys at their next refresh."
    )


@store_app.command("publish")
@vendor_command
def publish(
    directory: DirArg,
    source: Annotated[Path, typer.Argument(help="Product folder with tollgate.toml.")],
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be published (files, sizes, patches); store nothing."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Publish a product release from its folder (reads SOURCE/tollgate.toml)."""
    ctx = open_store(_folder(directory))
    try:
        if dry_run:
            plan = ctx.plan_release(source)
        else:
            with publish_progress(not as_json) as step:
                done = ctx.publish(source, step)
    except (ManifestError, PublishRefused) as exc:
        raise UsageError(f"{exc} (nothing was published)") from exc
    except OSError as exc:
        raise UsageError(f"{explain_os_error(exc, 'reading')} (nothing was published)") from exc
    finally:
        ctx.close()
    if dry_run:
        _show_plan(plan, as_json)
    elif as_json:
        emit_json(done.__dict__)
    else:
        console.print(
            f"Published {done.product} {done.version}: {done.core_files} core "
            f"file(s), add-ons: {', '.join(done.addons) or 'none'}"
        )


def _show_plan(plan: ReleasePlan, as_json: bool) -> None:
    if as_json:
        emit_json(plan.to_json())
        return
    since = f" (the newest published is {plan.previous})" if plan.previous else " (its first)"
    console.print(
        f"Would publish {plan.product} {plan.version}{since}: {len(plan.files)} file(s), "
        f"{human_size(plan.size)}; nothing was stored"
    )
    terms = {a["name"]: a["terms"] for a in plan.addons}
    for f in plan.files:
        where = "core" if f.addon is None else f"{f.addon} ({terms[f.addon]})"
        patches = f"; patches from {', '.join(f.patches_from)}" if f.patches_from else ""
        console.print(f"  {f.status:<9} {human_size(f.size):>10}  {where}: {f.path}{patches}")


@store_app.command("publish-client")
@vendor_command
def publish_client(
    directory: DirArg,
    wheel: Annotated[
        Path, typer.Argument(help="The download program's wheel: tollgate-VERSION-py3-none-any.whl")
    ],
    wheelhouse: Annotated[
        Path,
        typer.Option(
            "--wheelhouse",
            help="A folder with the wheel of every package it needs, for every platform you "
            "support (pip download --only-binary=:all: [--platform …] -r REQUIREMENTS -d DIR).",
        ),
    ],
    requirements: Annotated[
        Path | None,
        typer.Option(
            "--requirements",
            help="The pinned requirements the wheelhouse was downloaded from (hashes checked).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a newer download program and its dependencies, each wheel a TUF target:
    installers and self-updates take them from the store, never from a package index."""
    ctx = open_store(_folder(directory))
    try:
        row = ctx.publish_client(wheel, wheelhouse, requirements)
        release = ctx.client_release()
    except OSError as exc:
        raise UsageError(
            f"cannot read {exc.filename or wheel}: {exc.strerror or exc} (nothing was published)"
        ) from exc
    except PublishRefused as exc:
        raise UsageError(f"{exc} (nothing was published)") from exc
    except StoreError as exc:
        raise UsageError(f"{exc.detail} (nothing was published)") from exc
    finally:
        ctx.close()
    wheels = sum(len(files) for files in release.requirements.values()) if release else 0
    if as_json:
        emit_json(
            {
                "version": row.version,
                "sha256": row.digest,
                "size": row.size,
                "requirements": sorted(release.requirements) if release else [],
                "wheels": wheels,
            }
        )
    else:
        console.print(
            f"Published the download program {row.version} ({row.size:,} bytes) with "
            f"{wheels} dependency wheel(s) for {len(release.requirements) if release else 0} "
            "package(s)"
        )


@store_app.command("serve")
@vendor_command
def serve(
    directory: DirArg,
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="The port to listen on (0: any free one)."),
    ] = 8700,
) -> None:
    """Serve the store: its API (OpenAPI at /docs), storefront, admin pages and the
    customers' installer page (/bootstrap)."""
    folder = _folder(directory)
    try:
        folder.check_private()
    except StoreFolderError as exc:
        raise UsageError(str(exc)) from exc
    if host in ("0.0.0.0", "::") and folder.config.public_url is None:  # noqa: S104
        raise UsageError(
            f"on {host} the store cannot name its own URL (it never takes it from a Host "
            f"header): set public_url in {folder.config_path}, e.g. "
            '`public_url = "https://shop.example"`'
        )
    try:
        sock = listen(host, port)
    except PortInUse as exc:
        hint = "try another with --port" if exc.errno == errno.EADDRINUSE else "check --host"
        raise UsageError(f"cannot serve on {exc.strerror}: {hint}") from exc
    ctx = open_store(folder)
    ctx.served_at = f"http://{host}:{sock.getsockname()[1]}"
    repaired = ctx.orders.repair_pending()
    if repaired:
        console.print(f"Repaired {repaired} order(s) left pending by a crash")
    base = folder.config.public_url or ctx.served_at
    for what, path in (
        ("Storefront", "/"),
        ("Admin pages", "/admin"),
        ("Customers register at", "/bootstrap"),
        ("API (OpenAPI)", "/docs"),
    ):
        console.print(f"{what}: {base.rstrip('/')}{path}")
    serve_forever(ctx, sock)


Row = dict[str, Any]


def _listing(
    directory: Path,
    query: Callable[[Session], list[Row]],
    as_json: bool,
    line: Callable[[Row], str],
    empty: str,
) -> None:
    """One of the vendor's listings: JSON for scripts, else a line per row (``empty`` when
    there is none)."""
    ctx = open_store(_folder(directory))
    try:
        with ctx.sessions() as s:
            rows = query(s)
    finally:
        ctx.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print(empty)
    for row in rows:
        console.print(line(row))


@store_app.command("customers")
@vendor_command
def customers(directory: DirArg, as_json: JsonOpt = False) -> None:
    """Registered customers (no card numbers: the store never has them)."""
    _listing(
        directory,
        admin.list_customers,
        as_json,
        lambda c: f"{c['customer_id']}  {c['name']:<20} {c['country']}  {c['card']}  {c['status']}",
        "No customers yet.",
    )


@store_app.command("sales")
@vendor_command
def sales(directory: DirArg, as_json: JsonOpt = False) -> None:
    """Paid orders, one line each; a free update names the paid order it extends."""
    _listing(
        directory,
        admin.list_sales,
        as_json,
        lambda r: (
            f"{r['paid_at'][:19]}  {r['order_id']}  {r['customer_id']}  {r['product']} "
            f"{r['addon']}  "
            f"{format_amount(r['amount'], r['currency'])}  "
            + (
                f"update of {r['upgrade_of']}"
                if r["upgrade_of"]
                else str(r["charge_id"] or "no charge")
            )
            + ("  REFUNDED" if r["status"] == "refunded" else "")
        ),
        "No sales yet.",
    )


@store_app.command("usage")
@vendor_command
def usage(directory: DirArg, as_json: JsonOpt = False) -> None:
    """Metered uses received from customers' machines, and what each was charged."""
    _listing(
        directory,
        admin.list_usage,
        as_json,
        lambda r: (
            f"{r['used_at'][:19]}  {r['customer_id']}  {r['product']} {r['addon']} "
            f"{r['name']}  {format_amount(r['amount'], r['currency'])}  {r['status']}  "
            f"{r['charge_id'] or '-'}"
        ),
        "No metered uses yet.",
    )


@store_app.command("refund")
@vendor_command
def refund(
    directory: DirArg,
    order_id: Annotated[str, typer.Argument(help="The order to refund (`store sales`).")],
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Refund a paid order (and its free updates) to the customer's card. Their machines drop
    the add-on at their next licence renewal, and at its renew_by date at the latest."""
    ctx = open_store(_folder(directory))
    try:
        with ctx.sessions() as s:
            sale = admin.find_sale(s, order_id)
        if sale is None:
            raise UsageError(f"no paid order {order_id} (`tollgate store sales` lists them)")
        what = f"{format_amount(sale['amount'], sale['currency'])} to {sale['customer_id']} for "
        what += f"{sale['product']} {sale['addon']} {sale['version']}"
        if sale["status"] == "paid":
            _confirm(f"Refund {what} (order {order_id})?", yes)
        result = admin.refund_order(ctx.sessions, ctx.gateway, order_id, ctx.clock())
    finally:
        ctx.close()
    if as_json:
        emit_json(result)
    elif result["already_refunded"]:
        console.print(f"{order_id} was already refunded ({what}): nothing changed")
    else:
        console.print(
            f"Refunded {what} (order {order_id}); their machines drop the add-on at their "
            "next renewal"
        )


@store_app.command("clear-hold")
@vendor_command
def clear_hold(
    directory: DirArg,
    customer_id: Annotated[str, typer.Argument(help="The customer (`store customers`).")],
    as_json: JsonOpt = False,
) -> None:
    """Renew a customer's licences again after their machine's meter did not add up (a
    restored or edited client state) and they explained it. Uses found missing stay on record."""
    ctx = open_store(_folder(directory))
    try:
        with ctx.sessions.begin() as s:
            reason = admin.clear_hold(s, customer_id)
    finally:
        ctx.close()
    if as_json:
        emit_json({"customer_id": customer_id, "cleared": reason})
    elif reason is None:
        console.print(f"{customer_id} had no hold; nothing changed")
    else:
        console.print(f"Cleared the hold on {customer_id} ({reason}); their next sync renews")


@store_app.command("stop-selling")
@vendor_command
def stop_selling(
    directory: DirArg,
    customer_id: Annotated[str, typer.Argument(help="The customer (`store customers`).")],
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Refuse every further request from a customer and erase all but their id (name, email,
    country, keys, card): cannot be undone. Their machines drop the licences at the next sync."""
    ctx = open_store(_folder(directory))
    try:
        with ctx.sessions() as s:
            customer = admin.find_customer(s, customer_id)
            takes = admin.what_stopping_takes(s, customer_id)
        if customer is None:
            raise UsageError(f"no customer {customer_id} (`tollgate store customers`)")
        if not customer["stopped"]:
            who = f"{customer_id} ({customer['name']}, {customer['email']})"
            _confirm(
                f"Stop selling to {who}? Their details are erased: this cannot be undone. {takes}",
                yes,
            )
        with ctx.sessions.begin() as s:
            stopped = admin.stop_selling(s, customer_id)
    finally:
        ctx.close()
    if as_json:
        emit_json({"customer_id": customer_id, "status": "stopped", "already_stopped": not stopped})
    elif stopped:
        console.print(f"Stopped selling to {customer_id}; all but the id erased")
    else:
        console.print(f"{customer_id} was already stopped: nothing changed")


def _confirm(question: str, yes: bool) -> None:
    """Ask before an irreversible change (`--yes` skips); "no" exits 6 and changes nothing."""
    confirm(question, yes=yes, nothing="nothing changed")


def demo(
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the demo's files here.")] = None,
    client: Annotated[
        Path | None,
        typer.Option("--client", help="Publish the download program `make dist` left here."),
    ] = None,
) -> None:
    """The whole story end to end, on loopback, in a temporary folder."""
    from tollgate.store.demo import run_demo

    raise typer.Exit(run_demo(keep, client))


def add_commands(app: typer.Typer) -> None:
    """The ``tollgate.commands`` entry point: ``tollgate store …`` and ``tollgate demo``."""
    app.add_typer(store_app, name="store")
    app.command("demo")(demo)
