"""The vendor's admin pages on a real store: token login, sessions, CSRF on every form, the
customers' states, sales with a chart, refunds and "stop selling"."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from test_cli import tg
from test_purchase import purchase

from conftest import Customer, LiveStore
from tollgate.client.errors import Refused
from tollgate.store.admin_sessions import SESSION_COOKIE
from tollgate.store.db import AdminSession, Order
from tollgate.store.db import Customer as CustomerRow

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def _login(browser: httpx.Client, token: str) -> httpx.Response:
    form = browser.get("/admin/login")
    return browser.post("/admin/login", data={"token": token, "csrf": _csrf(form)})


@pytest.fixture
def admin(store: LiveStore) -> Iterator[tuple[httpx.Client, str]]:
    token = store.folder.issue_admin_token()
    with httpx.Client(base_url=store.url) as browser:
        yield browser, token


def test_every_admin_page_needs_a_session(admin: tuple[httpx.Client, str]) -> None:
    browser, _ = admin
    for path in ("/admin", "/admin/customers", "/admin/sales", "/admin/uses"):
        answer = browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    forged = browser.post("/admin/customers/cu_x/stop", data={"csrf": "anything"})
    assert forged.status_code == 303 and forged.headers["location"] == "/admin/login"
    browser.cookies.set(SESSION_COOKIE, "made-up-session", path="/admin")
    assert browser.get("/admin").status_code == 303


def test_login_refuses_a_wrong_token_and_a_form_without_its_token(
    store: LiveStore, admin: tuple[httpx.Client, str]
) -> None:
    browser, token = admin
    wrong = _login(browser, token + "x")
    assert wrong.status_code == 401 and "not this store" in wrong.text
    no_form_token = browser.post("/admin/login", data={"token": token})
    assert no_form_token.status_code == 403
    with httpx.Client(base_url=store.url) as other:  # the field without its cookie
        csrf = _csrf(browser.get("/admin/login"))
        cross = other.post("/admin/login", data={"token": token, "csrf": csrf})
        assert cross.status_code == 403
    assert browser.get("/admin").status_code == 303

    signed_in = _login(browser, token)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/admin"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    session_id = browser.cookies[SESSION_COOKIE]
    with store.ctx.sessions() as s:
        stored = s.scalars(select(AdminSession.id_sha256)).all()
    assert stored == [hashlib.sha256(session_id.encode()).hexdigest()]  # the id is not stored


def test_dashboard_customers_and_stop_selling(
    store: LiveStore, customer: Customer, admin: tuple[httpx.Client, str]
) -> None:
    browser, token = admin
    purchase(store, customer)
    assert _login(browser, token).status_code == 303

    dashboard = browser.get("/admin")
    assert dashboard.status_code == 200 and dashboard.headers["cache-control"] == "no-store"
    assert "300 JPY" in dashboard.text and "<rect" in dashboard.text
    assert re.search(
        r'<td data-label="Product">MT</td><td data-label="Add-on">dic2</td>\s*'
        r'<td data-label="Sales and uses">1</td><td data-label="Revenue">300 JPY</td>',
        dashboard.text,
    )

    customer_id = customer.account.customer_id
    page = browser.get("/admin/customers")
    assert customer_id in page.text and "visa ****4242" in page.text and "12/34" in page.text
    assert "4242424242424242" not in page.text
    assert '<td data-label="Status" class="state">active</td>' in page.text

    stop = f"/admin/customers/{customer_id}/stop"
    assert browser.post(stop).status_code == 403  # no CSRF token
    assert browser.post(stop, data={"csrf": "not-the-token"}).status_code == 403
    with store.ctx.sessions() as s:
        assert s.get(CustomerRow, customer_id).status == "active"  # type: ignore[union-attr]

    # The list links to a page that asks first; only its button (a POST) changes anything.
    assert f'href="{stop}"' in page.text
    asked = browser.get(stop)
    assert asked.status_code == 200 and "cannot be undone" in asked.text
    assert "drop the 1 add-on(s) they paid for (300 JPY)" in asked.text
    assert "nothing is refunded" in asked.text
    assert "Taro &lt;taro@example.jp&gt;" in asked.text or customer_id in asked.text
    with store.ctx.sessions() as s:
        assert s.get(CustomerRow, customer_id).status == "active"  # type: ignore[union-attr]

    done = browser.post(stop, data={"csrf": _csrf(asked)})
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/customers?stopped={customer_id}"
    with store.ctx.sessions() as s:
        row = s.get(CustomerRow, customer_id)
        assert row is not None and row.status == "stopped"
        assert (row.name, row.email, row.card_token, row.key_sealed) == ("", "", "", b"")
    after = browser.get(done.headers["location"])
    assert '<td data-label="Status" class="state">stopped</td>' in after.text
    assert f"Stopped selling to {customer_id}; all but the id erased." in after.text
    # Done already: not asked again, and a second click says so.
    asked_again = browser.get(stop)
    assert asked_again.status_code == 303
    assert asked_again.headers["location"] == f"/admin/customers?already_stopped={customer_id}"
    twice = browser.post(stop, data={"csrf": _csrf(asked)})
    assert "already_stopped" in twice.headers["location"]
    assert "was already stopped: nothing changed." in browser.get(twice.headers["location"]).text
    with pytest.raises(Refused) as refused:
        purchase(store, customer)
    assert refused.value.code == "customer_stopped"


def test_card_expired_state(
    store: LiveStore, customer: Customer, admin: tuple[httpx.Client, str]
) -> None:
    browser, token = admin
    with store.ctx.sessions.begin() as s:
        s.execute(update(CustomerRow).values(card_exp_month=1, card_exp_year=2021))
    _login(browser, token)
    page = browser.get("/admin/customers")
    assert '<td data-label="Status" class="state">card expired</td>' in page.text


def test_refund_from_the_orders_page(
    store: LiveStore, customer: Customer, admin: tuple[httpx.Client, str]
) -> None:
    browser, token = admin
    bought = purchase(store, customer)
    _login(browser, token)
    page = browser.get("/admin/sales")
    assert bought.order_id in page.text and "Refund" in page.text
    refund = f"/admin/orders/{bought.order_id}/refund"
    asked = browser.get(refund)
    assert asked.status_code == 200 and "<h1>Refund 300 JPY?</h1>" in asked.text
    assert "MT dic2 1.0.0" in asked.text and 'href="/admin/sales">Cancel' in asked.text
    with store.ctx.sessions() as s:
        assert s.get(Order, bought.order_id).status == "paid"  # type: ignore[union-attr]
    assert browser.post(refund, data={"csrf": "x"}).status_code == 403
    done = browser.post(refund, data={"csrf": _csrf(asked)})
    assert done.status_code == 303
    with store.ctx.sessions() as s:
        assert s.get(Order, bought.order_id).status == "refunded"  # type: ignore[union-attr]
    said = browser.get(done.headers["location"]).text
    assert f"Refunded 300 JPY for order {bought.order_id} (MT dic2)." in said
    assert "already_refunded" in browser.get(refund).headers["location"]  # not asked again
    again = browser.post(refund, data={"csrf": _csrf(asked)})  # a second click, or a replay
    assert "already_refunded" in again.headers["location"]
    assert "Already refunded 300 JPY" in browser.get(again.headers["location"]).text
    # A notice is made from the ids looked up, never from text in the URL.
    forged = browser.get("/admin/sales?refunded=Your+store+was+hacked").text
    assert "hacked" not in forged and 'class="notice"' not in forged
    after = browser.get("/admin")
    assert "refunded: 300 JPY (1)" in after.text
    missing = browser.post("/admin/orders/or_nothing/refund", data={"csrf": _csrf(page)})
    assert missing.status_code == 404
    assert "No metered uses yet." in browser.get("/admin/uses").text


def test_logout_and_a_new_token_end_sessions(
    store: LiveStore, admin: tuple[httpx.Client, str], tmp_path: Path
) -> None:
    browser, token = admin
    _login(browser, token)
    page = browser.get("/admin")
    assert page.status_code == 200
    assert browser.post("/admin/logout", data={"csrf": _csrf(page)}).status_code == 303
    assert browser.get("/admin").status_code == 303

    _login(browser, token)
    issued = tg(tmp_path / "home", "store", "admin-token", str(store.folder.path), "--json")
    assert issued.returncode == 0, issued.stderr
    new = json.loads(issued.stdout)
    assert new["sessions_ended"] == 1 and new["admin_token"] != token
    assert browser.get("/admin").status_code == 303
    assert _login(browser, token).status_code == 401
    assert _login(browser, new["admin_token"]).status_code == 303
