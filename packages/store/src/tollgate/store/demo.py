"""``tollgate demo``: the whole story on loopback, with the example products MT and Shelf.

Store created, MT and Shelf published → served on 127.0.0.1 → a customer registers with a test
card → runs MT (basic) → buys dic2 with one command → runs MT (full) → prints a page with the
per-use print add-on, charged once → reads Shelf's free first chapter, buys the book through the
storefront's Buy button (`tollgate open` on the downloaded install list), reads on
→ the charges, seen by the vendor → MT 1.1.0 arrives as patches → the customer's folder copied
to "another machine", where nothing bought opens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from rich.rule import Rule

from tollgate.cli.output import console, styled
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import serve_in_thread
from tollgate.store.services import admin

EXAMPLES = Path(__file__).resolve().parents[5] / "examples"  # in a checkout of the repository
EXAMPLE = EXAMPLES / "mt"
SHELF = EXAMPLES / "shelf"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0"


def _step(title: str) -> None:
    console.print(Rule(styled(title, "bold")))


def _tollgate(home: Path, machine: str, *args: str) -> int:
    env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=machine)
    console.print(styled(f"$ tollgate {' '.join(args)}", "dim"))
    return subprocess.run(
        [sys.executable, "-m", "tollgate", *args], env=env, check=False
    ).returncode


def _next_release(where: Path) -> Path:
    """MT 1.1.0: a few more words in the basic word list and in dic2's dictionary."""
    shutil.copytree(EXAMPLE, where, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = where / "tollgate.toml"
    text = manifest.read_text().replace('version = "1.0.0"', 'version = "1.1.0"', 1)
    manifest.write_text(
        text.replace('notes = "First release', 'notes = "1.1.0: more words. First release')
    )
    with (where / "data" / "basic.tsv").open("a", encoding="utf-8") as fh:
        fh.write("store\t店\nupdate\t更新\npatch\tパッチ\n")
    with (where / "addons" / "mt_dic2" / "dictionary.tsv").open("a", encoding="utf-8") as fh:
        fh.write("tollgate\t料金所\n")
    return where


def _buy_button(store_url: str, product: str, addon: str, where: Path) -> Path:
    """What a browser saves when the storefront's Buy button is clicked."""
    answer = httpx.get(
        f"{store_url}/products/{product}/get",
        params={"addon": addon},
        headers={"User-Agent": BROWSER},
    )
    answer.raise_for_status()
    saved = where / f"{product}-{addon}.tollgate"
    saved.write_bytes(answer.content)
    return saved


def run_demo(keep: Path | None = None, client: Path | None = None) -> int:
    """The demo; ``client`` is a folder as ``make dist`` leaves it, whose download program is
    published too (the bootstrap installer then works)."""
    if not (EXAMPLE / "tollgate.toml").is_file():
        console.print(f"The example product is missing: {EXAMPLE}")
        return 2
    base = Path(tempfile.mkdtemp(prefix="tollgate-demo-")) if keep is None else keep
    base.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        _step("1. The vendor creates a store and publishes MT")
        folder = StoreFolder.create(base / "store", name="Demo Store")
        ctx = open_store(folder)
        for source in (EXAMPLE, SHELF):
            done = ctx.publish(source)
            console.print(
                f"Published {done.product} {done.version} ({done.core_files} core files) "
                f"in store {ctx.store_id}, {folder.path}"
            )
        if client is not None:
            program = max(client.glob("tollgate-*-py3-none-any.whl"))
            row = ctx.publish_client(
                program, client / "wheelhouse", client / "client-requirements.txt"
            )
            console.print(f"Published the download program {row.version} and its dependencies")
        admin_token = folder.issue_admin_token()
        server = serve_in_thread(ctx)
        console.print(f"Serving on {server.url} (OpenAPI at {server.url}/docs)")
        console.print(f"Storefront, open while the demo runs: {server.url}/")
        console.print(f"Admin pages: {server.url}/admin (admin token {admin_token})")
        if client is not None:
            console.print(f"Registration bootstrap (installer): {server.url}/bootstrap")
        else:
            console.print(
                "No download program published (make demo publishes the one make dist built)"
            )

        home, machine = base / "customer", "demo-machine-a-0001"
        page = base / "translation.html"
        steps: list[tuple[str, list[tuple[str, ...]]]] = [
            (
                "2. A customer registers once (test card 4242…; the key stays on this machine)",
                [
                    (
                        "register",
                        server.url,
                        "--name",
                        "Hanako Yamada",
                        "--email",
                        "hanako@example.jp",
                        "--country",
                        "JP",
                        "--card",
                        "4242424242424242",
                        "--expiry",
                        "12/34",
                        "--cvc",
                        "123",
                        "--no-handler",  # the demo's customer is gone when it ends
                    )
                ],
            ),
            ("3. The free core is installed openly", [("install", "MT")]),
            ("4. MT runs with the basic word list only", [("run", "MT")]),
            (
                "5. One command buys dic2: no card number, charged once, delivered encrypted",
                [("buy", "MT", "dic2", "--yes")],
            ),
            ("6. MT runs again: dic2 is opened in memory", [("run", "MT")]),
            (
                "7. Printing is sold per use: one page printed, one use sent and charged once",
                [
                    ("buy", "MT", "print", "--yes"),
                    ("run", "MT", "--", "--print", str(page), "I read a good book yesterday"),
                    ("sync",),
                    ("usage",),
                ],
            ),
            (
                "8. Shelf: a free first chapter; the book bought with the storefront's Buy "
                "button (the file a browser downloads, opened by `tollgate open`) and read page "
                "by page",
                [
                    ("install", "Shelf"),
                    ("run", "Shelf", "--", "list"),
                    ("run", "Shelf", "--", "read", "lighthouse", "--page", "2"),
                    ("open", str(_buy_button(server.url, "Shelf", "lighthouse", base)), "--yes"),
                    ("run", "Shelf", "--", "read", "lighthouse", "--page", "4"),
                ],
            ),
        ]
        for title, commands in steps:
            _step(title)
            for args in commands:
                if _tollgate(home, machine, *args) != 0:
                    console.print(styled(f"demo step failed: tollgate {' '.join(args)}", "red"))
                    return 1

        _step("9. The vendor sees each charge once")
        with ctx.sessions() as s:
            for sale in admin.list_sales(s):
                console.print(
                    f"{sale['customer_id']} bought {sale['product']} "
                    f"{sale['addon']} for {sale['amount']} {sale['currency']}"
                    + (
                        f" (charge {sale['charge_id']})"
                        if sale["charge_id"]
                        else " (charged per use)"
                    )
                )
            for use in admin.list_usage(s):
                console.print(
                    f"{use['customer_id']} used {use['product']} {use['addon']} "
                    f"({use['name']}): {use['amount']} {use['currency']}, {use['status']}"
                )

        _step("10. MT 1.1.0 is out: the update fetches patches; bought add-ons follow free")
        ctx.publish(_next_release(base / "mt-1.1.0"))
        for args in (("update", "--dry-run"), ("update",), ("run", "MT", "--", "tollgate")):
            if _tollgate(home, machine, *args) != 0:
                console.print(styled(f"demo step failed: tollgate {' '.join(args)}", "red"))
                return 1

        _step("11. The customer's folder, copied to another machine, opens nothing")
        other = base / "other-machine"
        shutil.copytree(home, other)
        code = _tollgate(other, "demo-machine-b-0002", "run", "MT")
        console.print(
            f"exit status {code}: " + ("refused, as it must be" if code == 4 else "unexpected")
        )
        if code != 4:
            return 1
        _step("Done")
        console.print(f"Files are in {base}" if keep else "Cleaning up the demo folder.")
        return 0
    finally:
        if server is not None:
            server.stop()
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
