"""Text that comes from a store is shown as text (issue 15, finding 4).

A hostile store (or vendor) writes Rich markup, terminal escapes and HTML into what customers
see: product summaries, release notes, add-on names and functions, error details; a hostile
customer writes them into their name, which the vendor sees. The CLI prints each literally,
without control characters, even on a colour terminal; the storefront and the admin pages
escape them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_admin_pages import _login
from test_cli import REG
from test_cli import tg as cli

from conftest import LiveStore, serving, write_tree
from tollgate.store.db import Release
from tollgate.store.services.catalog import publish_release

LINK = "[link=https://evil.example/pay]Click to claim your refund[/link]"
STYLE = "[bold red on white blink]URGENT[/]"
ESCAPES = "\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\ \x1b[2J\x1b[31mred\x07\x08\r"
HTML = "<script>alert(1)</script><img src=x onerror=alert(2)>"
MANIFEST = f"""
[product]
name = "Loud"
version = "1.0.0"
summary = "{LINK} {STYLE} {HTML}"
notes = "Notes: {LINK}"

[core]
files = ["loud/*.py"]
entry = "loud.main:main"

[[addon]]
name = "extra"
function = "{STYLE}"
revision = 1
price = 100
currency = "JPY"
files = ["addons/extra/**"]
"""


@pytest.fixture
def loud_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    source = write_tree(
        tmp_path / "src",
        {
            "tollgate.toml": MANIFEST,
            "loud/main.py": "def main(argv):\n    return 0\n",
            "addons/extra/loud_extra/__init__.py": "X = 1\n",
        },
    )
    with serving(tmp_path / "store", database_url, [source]) as live:
        # What no manifest may say, a hostile store can still sign: escapes in the summary.
        with live.ctx.sessions.begin() as s:
            release = s.scalars(select(Release)).one()
            release.summary = f"{LINK} {ESCAPES}"
            release.notes = f"Notes: {STYLE} {ESCAPES}"
            s.flush()
            publish_release(s, live.ctx.repository, release, store_id=live.ctx.store_id)
        yield live


COLOUR_TERMINAL = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "500"}


def tg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a colour terminal runs it: Rich would draw styles and links here."""
    return cli(home, *args, env_extra=COLOUR_TERMINAL)


def shown_as_text(out: str) -> None:
    assert "\x1b]8;" not in out  # no terminal hyperlink
    assert "\x07" not in out and "\x08" not in out and "\x1b[2J" not in out
    assert "evil.example\x1b" not in out


def test_the_cli_prints_store_text_literally(loud_store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = tg(home, "register", loud_store.url, *REG, "--card", "4242424242424242")
    assert done.returncode == 0, done.stderr
    catalog = tg(home, "catalog")
    assert catalog.returncode == 0, catalog.stderr
    assert LINK in catalog.stdout  # the markup is there, as characters
    shown_as_text(catalog.stdout)
    installed = tg(home, "install", "Loud")
    assert installed.returncode == 0, installed.stderr
    assert STYLE in installed.stdout  # the release notes, shown as the notice
    shown_as_text(installed.stdout + installed.stderr)
    # as JSON, the text is exactly what the store signed
    listing = json.loads(tg(home, "catalog", "--json").stdout)
    loud = next(p for p in listing["products"] if p["name"] == "Loud")
    assert loud["summary"] == f"{LINK} {ESCAPES}"


def test_an_error_detail_from_the_store_is_printed_literally(
    loud_store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", loud_store.url, *REG, "--card", "4242424242424242").returncode == 0
    refused = tg(home, "buy", "Loud", "[link=https://evil.example]extra[/link]", "--yes")
    assert refused.returncode != 0
    assert "[link=https://evil.example]extra[/link]" in refused.stderr
    shown_as_text(refused.stderr)


def test_pages_escape_vendor_and_customer_text(loud_store: LiveStore, tmp_path: Path) -> None:
    for path in ("/", "/products/Loud"):
        page = httpx.get(loud_store.url + path).text
        assert "<script>" not in page and "<img src=x" not in page
        assert "\x1b" not in page
    product = httpx.get(loud_store.url + "/products/Loud").text
    assert "Click to claim your refund" in product  # shown, as text
    # a customer whose name is HTML, seen by the vendor on the admin pages
    home = tmp_path / "home"
    reg = [*REG]
    reg[reg.index("--name") + 1] = f"{HTML} [red]Eve[/red]"
    assert tg(home, "register", loud_store.url, *reg, "--card", "4242424242424242").returncode == 0
    token = loud_store.folder.issue_admin_token()
    with httpx.Client(base_url=loud_store.url) as browser:
        assert _login(browser, token).status_code == 303
        customers = browser.get("/admin/customers").text
    assert "<script>alert(1)</script>" not in customers
    assert "&lt;script&gt;" in customers and "\x1b" not in customers
    # and on the vendor's terminal
    listing = subprocess.run(
        [sys.executable, "-m", "tollgate", "store", "customers", str(loud_store.folder.path)],
        env=dict(os.environ, **COLOUR_TERMINAL),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{HTML} [red]Eve[/red]" in listing.stdout
