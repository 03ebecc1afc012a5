"""The storefront's pages and buttons, on a real store served on loopback."""

from __future__ import annotations

import hashlib
import html
import json
import re

import httpx
import pytest

from conftest import LiveStore
from tollgate.wire import install_list
from tollgate.wire.handoff import parse_link

LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_catalog_lists_every_product_with_its_version(store: LiveStore) -> None:
    page = httpx.get(store.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert 'href="/products/MT"' in page.text and 'href="/products/Tools"' in page.text
    assert '<meta name="viewport"' in page.text
    root = httpx.get(store.url + "/v1/tuf/1.root.json").content
    assert hashlib.sha256(root).hexdigest() in page.text


def test_product_page_shows_core_addons_prices_and_release_notes(store: LiveStore) -> None:
    page = httpx.get(store.url + "/products/MT")
    assert page.status_code == 200
    text = page.text
    assert 'MT <span class="version">1.0.0</span>' in text
    assert "Get MT" in text
    assert "Buy · 300 JPY" in text  # dic2
    assert "20 JPY per use" in text  # print
    links = [parse_link(html.unescape(u)) for u in re.findall(r'href="(tollgate://[^"]*)"', text)]
    assert {(h.action, h.addon) for h in links} == {
        ("install", None),
        ("buy", "dic2"),
        ("buy", "print"),
    }
    assert all(h.store_id == store.ctx.store_id and h.product == "MT" for h in links)
    assert "Release notes" in text
    # What a customer needs to trust it: what each add-on gives, sizes people read, the title
    # and the Register link once, no internal names.
    assert "The large dictionary: about a thousand words in all their forms." in text
    assert re.search(r"\d file(s)?, [\d.]+ kB", text) and " bytes" not in text
    assert text.count("<h1") == 1 and text.count('href="/bootstrap"') == 1
    assert "Function" not in text and "revision" not in text


def test_the_catalog_page_shows_what_things_cost(store: LiveStore) -> None:
    text = httpx.get(store.url + "/").text
    assert "Free core · add-ons 20 JPY per use, 300 JPY" in text  # MT, cheapest first
    assert "Free core · add-ons 1.00 USD, 50.00 USD" in text  # Tools: prices in cents


def test_buy_button_returns_an_install_list_naming_the_addon(store: LiveStore) -> None:
    answer = httpx.get(
        store.url + "/products/MT/get",
        params={"addon": "dic2"},
        headers={"User-Agent": LINUX_FIREFOX},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == install_list.MEDIA_TYPE
    assert answer.headers["content-disposition"] == 'attachment; filename="MT-1.0.0-dic2.tollgate"'
    listed = install_list.parse(json.loads(answer.content))
    assert listed.handoff is not None
    assert (listed.handoff.action, listed.handoff.addon) == ("buy", "dic2")
    assert listed.store_id == store.ctx.store_id and listed.product == "MT"
    assert any(i.target.startswith("MT/1.0.0/core/") for i in listed.installs)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/products/Nothing", {}),
        ("/products/Nothing/get", {}),
        ("/products/MT/get", {"addon": "nothing"}),
        ("/products/MT/get", {"addon": "<script>alert(1)</script>"}),
    ],
)
def test_unknown_product_or_addon_is_a_page_saying_so(
    store: LiveStore, path: str, params: dict[str, str]
) -> None:
    answer = httpx.get(store.url + path, params=params)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<script>" not in answer.text
    assert "Not found" in answer.text
