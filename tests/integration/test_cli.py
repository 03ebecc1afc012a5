"""The command line as a script uses it: --json output and documented exit statuses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import MACHINE_A, LiveStore


def tg(
    home: Path, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "tollgate", *args],
        env=env,
        text=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )


REG = [
    "--name",
    "Taro",
    "--email",
    "taro@example.jp",
    "--country",
    "JP",
    "--expiry",
    "12/34",
    "--cvc",
    "123",
]


def test_register_buy_and_sales_as_json(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = tg(home, "register", store.url, *REG, "--card", "4242424242424242", "--json")
    assert r.returncode == 0, r.stderr
    customer_id = json.loads(r.stdout)["customer_id"]
    assert tg(home, "install", "MT", "--json").returncode == 0
    no_yes = tg(home, "buy", "MT", "dic2")
    assert no_yes.returncode == 2 and "--yes" in no_yes.stderr  # no terminal: no prompt
    bought = tg(home, "buy", "MT", "dic2", "--yes", "--json")
    assert bought.returncode == 0, bought.stderr
    assert json.loads(bought.stdout)["bought"]["amount"] == 300
    listed = json.loads(tg(home, "list", "--json").stdout)
    assert listed[0]["addons"]["dic2"]["version"] == "1.0.0"
    store_dir = str(store.folder.path)
    sales = json.loads(tg(home, "store", "sales", store_dir, "--json").stdout)
    assert [s["customer_id"] for s in sales] == [customer_id]
    customers = json.loads(tg(home, "store", "customers", store_dir, "--json").stdout)
    assert customers[0]["customer_id"] == customer_id and "4242424242424242" not in str(customers)
    assert tg(home, "store", "stop-selling", store_dir, customer_id, "--yes").returncode == 0
    stopped = tg(home, "buy", "MT", "print", "--yes")
    assert stopped.returncode == 3 and "no longer sells" in stopped.stderr


def test_exit_statuses(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    declined = tg(home, "register", store.url, *REG, "--card", "4000000000000002")
    assert declined.returncode == 3 and "declined" in declined.stderr
    missing = tg(home, "register", store.url, "--name", "x")
    assert missing.returncode == 2
    unreachable = tg(home, "register", "http://127.0.0.1:9", *REG, "--card", "4242424242424242")
    assert unreachable.returncode == 5 and "cannot reach" in unreachable.stderr
    assert tg(home, "catalog").returncode == 2  # not registered anywhere


def test_catalog_before_registering(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "nobody"
    listing = tg(home, "catalog", "--store", store.url, "--json")
    assert listing.returncode == 0, listing.stderr
    browsed = json.loads(listing.stdout)
    assert {p["name"] for p in browsed["products"]} == {"MT", "Tools"}
    assert browsed["store"]["name"] == "Test Store" and browsed["store"]["registered"] is False
    shown = tg(home, "catalog", "--store", store.url)
    fingerprint = shown.stdout.split("fingerprint (SHA-256): ")[1].split()[0]
    assert fingerprint == browsed["store"]["root_fingerprint"] and len(fingerprint) == 64
    assert "dic2" in shown.stdout
    assert tg(home, "catalog", "--store", store.url, "--trust", fingerprint).returncode == 0
    wrong = tg(home, "catalog", "--store", store.url, "--trust", "0" * 64)
    assert wrong.returncode == 4 and "fingerprint" in wrong.stderr
    assert not (home / "stores").exists()  # browsing registers nothing


def test_only_the_store_adds_commands(tmp_path: Path) -> None:
    """A package that declares a ``tollgate.commands`` entry point is not the store: its
    commands are not taken (the command handles passwords and cards)."""
    site = tmp_path / "site"
    dist = site / "evil-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tollgate.commands]\nbuy = evil:add\n")
    (site / "evil.py").write_text(
        "def add(app):\n    @app.command('stolen')\n    def stolen():\n        print('evil ran')\n"
    )
    done = tg(tmp_path / "home", "stolen", env_extra={"PYTHONPATH": str(site)})
    assert done.returncode == 2 and "evil ran" not in done.stdout
    assert "No such command" in done.stderr


def test_short_help_and_version(tmp_path: Path) -> None:
    from tollgate.client import __version__

    version = tg(tmp_path / "home", "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"tollgate {__version__}"
    for command in ([], ["buy"], ["store"], ["store", "publish"], ["handler"]):
        short, long = (
            tg(tmp_path / "home", *command, "-h"),
            tg(tmp_path / "home", *command, "--help"),
        )
        assert short.returncode == long.returncode == 0, (command, short.stderr)
        assert short.stdout == long.stdout and "Usage: python -m tollgate" in short.stdout


def test_a_mistyped_name_gets_the_close_one(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    product = tg(home, "install", "mt")  # the store answers (its exit status: issue 17)
    assert product.returncode != 0
    assert "no product 'mt'; did you mean 'MT'?" in " ".join(product.stderr.split())
    assert tg(home, "install", "MT").returncode == 0
    run = tg(home, "run", "Mt")
    assert run.returncode == 2 and "did you mean 'MT'?" in " ".join(run.stderr.split())
    addon = tg(home, "buy", "MT", "dic", "--yes")
    assert addon.returncode == 2
    assert "no add-on 'dic'; did you mean 'dic2'?" in " ".join(addon.stderr.split())
    nothing_close = tg(home, "buy", "MT", "zzzz", "--yes")
    assert nothing_close.returncode == 2 and "did you mean" not in nothing_close.stderr


def test_catalog_shows_terms_sizes_and_what_is_yours(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    shown = tg(home, "catalog")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    dic2 = next(line for line in lines if line.split()[:1] == ["dic2"])
    printing = next(line for line in lines if line.split()[:1] == ["print"])
    assert "300 JPY" in dic2 and dic2.rstrip().endswith("yours") and "kB" in dic2
    assert "20 JPY per use" in printing and "free" not in printing and "yours" not in printing
    assert dic2.index("300 JPY") == printing.index("20 JPY")  # one column
    assert "function" not in shown.stdout and "revision" not in shown.stdout
    assert "installed 1.0.0" in shown.stdout
    as_json = json.loads(tg(home, "catalog", "--json").stdout)
    mt = next(p for p in as_json["products"] if p["name"] == "MT")
    assert {a["name"]: a["owned"] for a in mt["addons"]} == {"dic2": True, "print": False}
    assert as_json["store"]["registered"] is True


def test_a_pipe_gets_whole_lines_and_no_progress_bars(store: LiveStore, tmp_path: Path) -> None:
    folder = tmp_path / "new-store"
    made = tg(tmp_path / "h", "store", "init", str(folder), "--name", "Pipe Store " + "x" * 60)
    assert made.returncode == 0, made.stderr
    token_line = next(line for line in made.stdout.splitlines() if "admin token" in line)
    assert len(token_line) > 80 and re.search(r": tga_[\w-]{40,}$", token_line)  # whole
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    installed = tg(home, "install", "MT")
    assert installed.returncode == 0
    assert "━" not in installed.stdout + installed.stderr and "?" not in installed.stdout
    assert "\x1b[" not in installed.stdout + installed.stderr  # no colour
