"""A customer in a real browser: headless Debian Chromium, driven by Playwright, browses the
storefront, clicks "Buy", and the downloaded install list is handed to `tollgate open`, which
checks it, buys and installs. `make test` installs Chromium; without it this test fails."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright
from test_cli import REG, tg

from conftest import LiveStore
from programs import CARD, PERSON, Installed, run_installer
from tollgate.wire.install_list import MEDIA_TYPE

CHROMIUM = "/usr/bin/chromium"
# As root on a machine with no network but loopback: no sandbox, nothing in the background.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_click_buy_then_open_the_download(
    browser: Browser, store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    registered = tg(home, "register", store.url, *REG, "--card", "4242424242424242")
    assert registered.returncode == 0, registered.stderr

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(store.url + "/")
    assert page.title() == "Test Store"
    page.get_by_role("link", name="MT").click()
    page.wait_for_url("**/products/MT")
    assert page.get_by_role("heading", level=1).inner_text().startswith("MT")
    assert page.get_by_text("Get MT").is_visible()

    buy = page.get_by_role("button", name="Buy dic2 for 300 JPY")
    with (
        page.expect_response("**/products/MT/get?addon=dic2") as answered,
        page.expect_download() as downloading,
    ):
        buy.click()
    response = answered.value
    assert response.status == 200
    assert response.headers["content-type"] == MEDIA_TYPE
    download = downloading.value
    assert download.suggested_filename == "MT-1.0.0-dic2.tollgate"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    context.close()

    handed = json.loads(saved.read_bytes())
    assert (handed["action"], handed["addon"], handed["product"]) == ("buy", "dic2", "MT")
    opened = tg(home, "open", str(saved), "--yes", "--json")
    assert opened.returncode == 0, opened.stderr
    report = json.loads(opened.stdout)
    assert report["bought"]["amount"] == 300
    run = tg(home, "run", "MT", "the", "old", "river")
    assert run.returncode == 0, run.stderr
    assert "古い 川" in run.stdout  # dic2, bought through the browser, opens in memory


def test_storefront_on_a_phone(browser: Browser, store: LiveStore) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(store.url + "/products/MT")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing wider than the screen
    for button in page.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44  # a finger-sized target
        assert button.get_attribute("aria-label") or button.inner_text()
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()


def test_newcomer_registers_from_the_bootstrap_page_and_buys_by_clicking(
    browser: Browser, client_store: LiveStore, tmp_path: Path
) -> None:
    """The whole first visit: catalog → Register → check the fingerprint → download and run the
    installer → Buy → the download program (the installed one, through its launcher) buys."""
    store = client_store
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(store.url + "/")
    page.get_by_role("link", name="Register").click()
    page.wait_for_url("**/bootstrap")
    root = httpx.get(store.url + "/v1/tuf/1.root.json").content
    assert hashlib.sha256(root).hexdigest() in page.locator("main").inner_text()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download tollgate-setup.pyz").click()
    pyz = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(pyz)
    assert hashlib.sha256(pyz.read_bytes()).hexdigest() in page.locator("main").inner_text()

    newcomer = Installed(tmp_path / "program", tmp_path / "home")
    setup = run_installer(
        pyz, "--dir", str(newcomer.program), "--home", str(newcomer.home), *PERSON, *CARD
    )
    assert setup.returncode == 0, setup.stderr
    assert "Registered with Test Store" in setup.stdout

    page.goto(store.url + "/products/MT")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Buy dic2 for 300 JPY").click()
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    context.close()

    opened = newcomer.run("open", str(saved), "--yes", "--json")
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["bought"]["amount"] == 300
    run = newcomer.run("run", "MT", "the", "old", "river")
    assert run.returncode == 0, run.stderr
    assert "古い 川" in run.stdout


# Every element's box, in the page's own coordinates: what lies past the right edge is cut off
# (or makes the page scroll sideways), and a box that scrolls inside hides what it holds.
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  // Hidden on purpose, or drawn inside an SVG (whose own box is measured).
  const hidden = (el) => el.closest('.visually-hidden, .skip, thead')
    || (el.closest('svg') && el.tagName.toLowerCase() !== 'svg');
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    if (hidden(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    const kind = el.getAttribute('class');
    const name = el.tagName.toLowerCase() + (kind ? '.' + kind : '');
    if (box.right > width + 0.5 || box.left < -0.5) {
      found.push(`${name} spans ${Math.round(box.left)}..${Math.round(box.right)} px`);
    }
    const style = getComputedStyle(el);
    const over = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
    if (over && ['auto', 'scroll', 'hidden'].includes(style.overflowX) && el.tagName !== 'PRE') {
      found.push(`${name} hides ${el.scrollWidth - el.clientWidth} px in a scroll`);
    } else if (over && style.overflowX === 'visible') {
      found.push(`${name}: its text runs ${el.scrollWidth - el.clientWidth} px past its box`);
    }
  }
  return {page: document.documentElement.scrollWidth, width, found};
}"""


def test_every_page_fits_a_phone_and_a_laptop(
    browser: Browser, client_store: LiveStore, tmp_path: Path
) -> None:
    """Storefront, bootstrap and every admin page, with a customer, an order and a use on
    them: at 375 px and at 1280 px nothing is wider than the window, nothing is cut off."""
    store = client_store
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    assert tg(home, "buy", "MT", "print", "--yes").returncode == 0
    printed = tg(home, "run", "MT", "--", "--print", str(tmp_path / "page.html"), "the", "river")
    assert printed.returncode == 0, printed.stderr
    assert tg(home, "sync").returncode == 0
    customer_id = json.loads(
        tg(home, "store", "customers", str(store.folder.path), "--json").stdout
    )
    order_id = json.loads(tg(home, "store", "sales", str(store.folder.path), "--json").stdout)
    token = store.folder.issue_admin_token()
    pages = [
        "/",
        "/products/MT",
        "/products/Tools",
        "/products/Nothing",
        "/bootstrap",
        "/admin/login",
        "/admin",
        "/admin/sales",
        "/admin/customers",
        "/admin/uses",
        f"/admin/orders/{order_id[0]['order_id']}/refund",
        f"/admin/customers/{customer_id[0]['customer_id']}/stop",
    ]
    for width in (375, 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.set_default_timeout(120_000)  # /bootstrap builds its installer: slow on a busy machine
        page.goto(store.url + "/admin/login")
        page.get_by_label("Admin token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/admin")
        for path in pages:
            page.goto(store.url + path)
            measured = page.evaluate(MEASURE)
            assert measured["page"] <= width, (width, path, measured)
            assert measured["found"] == [], (width, path, measured["found"][:5])
        context.close()
