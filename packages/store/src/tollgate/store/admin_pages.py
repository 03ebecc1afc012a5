"""The vendor's admin pages under ``/admin``: customers and their state, sales and revenue per
product and per day with a chart, metered uses, refunds and "stop selling".

Behind the admin token (``tollgate store init`` shows it once; the store keeps its SHA-256) and
a server-side session (store/admin_sessions.py); every form that changes something carries the
session's CSRF token. Nothing secret is shown: of a card, the brand, last four and expiry.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tollgate.store.admin_sessions import (
    LIFETIME,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    AdminSessions,
    same_token,
)
from tollgate.store.pages import Pages
from tollgate.store.ratelimit import RateLimiter
from tollgate.store.services.admin import (
    SalesReport,
    find_customer,
    find_sale,
    list_customers,
    list_sales,
    list_usage,
    refund_order,
    sales_report,
    stop_selling,
    what_stopping_takes,
)
from tollgate.store.services.errors import StoreError
from tollgate.wire.addons import format_amount

if TYPE_CHECKING:
    from tollgate.store.context import StoreContext

NO_STORE = {"Cache-Control": "no-store"}
CHART_DAYS = 30


@dataclass(frozen=True)
class Bar:
    day: str
    x: int
    height: int
    label: str


def chart_bars(report: SalesReport, height: int = 120, width: int = 12) -> tuple[str, list[Bar]]:
    """Bars of the daily revenue in the store's main currency (the one with the most)."""
    if not report.total.amounts:
        return "", []
    currency = max(report.total.amounts, key=lambda item: item[1])[0]
    values = [(day, dict(r.amounts).get(currency, 0)) for day, r in report.per_day]
    top = max((v for _, v in values), default=0) or 1
    return currency, [
        Bar(f"{day:%Y-%m-%d}", i * (width + 2), round(v * height / top), format_amount(v, currency))
        for i, (day, v) in enumerate(values)
    ]


@dataclass(frozen=True)
class Question:
    """A confirmation page: what is asked, what it means, where the button posts."""

    title: str
    lines: list[str]
    action: str
    button: str
    back: str


def refund_notice(query: Mapping[str, str], sales: list[dict[str, Any]]) -> str | None:
    for key, said in (("refunded", "Refunded"), ("already_refunded", "Already refunded")):
        sale = next((o for o in sales if o["order_id"] == query.get(key)), None)
        if sale is not None and sale["status"] == "refunded":
            amount = format_amount(sale["amount"], sale["currency"])
            return (
                f"{said} {amount} for order {sale['order_id']} "
                f"({sale['product']} {sale['addon']})"
                + (": nothing changed." if key == "already_refunded" else ".")
            )
    return None


def stopped_notice(query: Mapping[str, str], customers: list[dict[str, Any]]) -> str | None:
    for key, said in (
        ("stopped", "Stopped selling to {}; all but the id erased."),
        ("already_stopped", "{} was already stopped: nothing changed."),
    ):
        who = next((c for c in customers if c["customer_id"] == query.get(key)), None)
        if who is not None and who["stopped"]:
            return said.format(who["customer_id"])
    return None


def no_notice(query: Mapping[str, str], rows: list[dict[str, Any]]) -> None:
    return None


def admin_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter(prefix="/admin", include_in_schema=False)
    pages = Pages(ctx)
    admin = AdminSessions(ctx.sessions, ctx.clock)
    failures = RateLimiter(10, 60.0)  # wrong admin tokens, per address per minute

    def secure(request: Request) -> bool:
        return request.url.scheme == "https"

    async def session_csrf(request: Request) -> str | None:
        return await asyncio.to_thread(admin.csrf_of, request.cookies.get(SESSION_COOKIE))

    def to_login() -> RedirectResponse:
        return RedirectResponse("/admin/login", status_code=303, headers=NO_STORE)

    async def show(
        request: Request, template: str, context: dict[str, Any], csrf: str
    ) -> HTMLResponse:
        return await pages.render(request, template, {**context, "csrf": csrf}, headers=NO_STORE)

    async def checked_form(request: Request, csrf_field: str) -> Response | None:
        """None when the form comes from a signed-in session with its CSRF token; else the
        answer to send instead (to the login page, or a 403 page)."""
        expected = await session_csrf(request)
        if expected is None:
            return to_login()
        if not same_token(csrf_field, expected):
            return await pages.problem(
                request, 403, "Form refused", "The form is missing its token: reload the page."
            )
        return None

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> HTMLResponse:
        nonce = secrets.token_urlsafe(32)
        response = await pages.render(
            request, "admin_login.html", {"csrf": nonce, "error": None}, headers=NO_STORE
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=600,
            path="/admin",
            httponly=True,
            samesite="strict",
            secure=secure(request),
        )
        return response

    @router.post("/login", response_model=None)
    async def login(
        request: Request,
        token: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        address = request.client.host if request.client else "unknown"
        if not same_token(csrf, request.cookies.get(LOGIN_COOKIE)):
            return await pages.problem(
                request, 403, "Form refused", "The sign-in form expired: reload the page."
            )
        # The right token always signs in: it is 256 random bits, so no guess succeeds, and a
        # throttle on every attempt would let anyone behind the same address lock the vendor
        # out. Only wrong tokens are counted, and answered 429 once there are too many.
        if not await asyncio.to_thread(ctx.folder.admin_token_matches, token):
            if not failures.allow(address):
                return await pages.problem(
                    request, 429, "Too many attempts", "Wait a minute before signing in again."
                )
            return await pages.render(
                request,
                "admin_login.html",
                {"csrf": csrf, "error": "That is not this store's admin token."},
                status=401,
                headers=NO_STORE,
            )
        session_id, _ = await asyncio.to_thread(admin.start)
        response = RedirectResponse("/admin", status_code=303, headers=NO_STORE)
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=int(LIFETIME.total_seconds()),
            path="/admin",
            httponly=True,
            samesite="strict",
            secure=secure(request),
        )
        response.delete_cookie(LOGIN_COOKIE, path="/admin")
        return response

    @router.post("/logout", response_model=None)
    async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
        refused = await checked_form(request, csrf)
        if refused is not None:
            return refused
        await asyncio.to_thread(admin.end, request.cookies.get(SESSION_COOKIE))
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    @router.get("", response_model=None)
    async def dashboard(request: Request) -> Response:
        csrf = await session_csrf(request)
        if csrf is None:
            return to_login()
        today = ctx.clock().date()

        def load() -> SalesReport:
            with ctx.sessions() as s:
                return sales_report(s, today, CHART_DAYS)

        report = await asyncio.to_thread(load)
        currency, bars = chart_bars(report)
        context = {"report": report, "bars": bars, "currency": currency, "days": CHART_DAYS}
        return await show(request, "admin_dashboard.html", context, csrf)

    def listing(template: str, load: Any, key: str, done: Callable[..., str | None]) -> Any:
        """A listing page; ``done(query, rows)`` says what the last change did, from the ids
        in the query string looked up in the rows (never text taken from the URL)."""

        async def page(request: Request) -> Response:
            csrf = await session_csrf(request)
            if csrf is None:
                return to_login()

            def rows() -> list[dict[str, Any]]:
                with ctx.sessions() as s:
                    result: list[dict[str, Any]] = load(s)
                    return result

            found = await asyncio.to_thread(rows)
            notice = done(request.query_params, found)
            return await show(request, template, {key: found, "notice": notice}, csrf)

        return page

    router.add_api_route(
        "/customers",
        listing(
            "admin_customers.html",
            lambda s: list_customers(s, ctx.clock().date()),
            "customers",
            stopped_notice,
        ),
        methods=["GET"],
        response_model=None,
    )
    router.add_api_route(
        "/sales",
        listing(
            "admin_sales.html", lambda s: list(reversed(list_sales(s))), "sales", refund_notice
        ),
        methods=["GET"],
        response_model=None,
    )
    router.add_api_route(
        "/uses",
        listing("admin_uses.html", lambda s: list(reversed(list_usage(s))), "uses", no_notice),
        methods=["GET"],
        response_model=None,
    )

    async def confirmation(
        request: Request, question: Question | str | None, missing: str
    ) -> Response:
        """The page that asks before an irreversible change: what it does, a button that does
        it (a POST with the CSRF token), and a way back. A change already made (``question``
        is the listing that says so) is not asked about again."""
        csrf = await session_csrf(request)
        if csrf is None:
            return to_login()
        if question is None:
            return await pages.problem(request, 404, missing, "Nothing here to change.")
        if isinstance(question, str):
            return RedirectResponse(question, status_code=303, headers=NO_STORE)
        return await show(request, "admin_confirm.html", {"q": question}, csrf)

    async def form_action(
        request: Request, csrf: str, work: Callable[[], str], missing: str
    ) -> Response:
        """Run a form's change once its session and CSRF token check out, then go to the page
        ``work`` names, which says what was done."""
        refused = await checked_form(request, csrf)
        if refused is not None:
            return refused
        try:
            back = await asyncio.to_thread(work)
        except StoreError as exc:
            return await pages.problem(request, 404, missing, exc.detail)
        return RedirectResponse(back, status_code=303, headers=NO_STORE)

    @router.get("/customers/{customer_id}/stop", response_model=None)
    async def confirm_stop(request: Request, customer_id: str) -> Response:
        def load() -> Question | str | None:
            with ctx.sessions() as s:
                customer = find_customer(s, customer_id)
                takes = what_stopping_takes(s, customer_id)
            if customer is None:
                return None
            if customer["stopped"]:
                return "/admin/customers?" + urlencode({"already_stopped": customer_id})
            return Question(
                f"Stop selling to {customer_id}?",
                [
                    f"{customer['name']} <{customer['email']}>, {customer['country']}",
                    "Their name, e-mail, country, keys and card are erased; only the id stays "
                    "on their orders.",
                    takes,
                    "This cannot be undone.",
                ],
                f"/admin/customers/{quote(customer_id, safe='')}/stop",
                "Stop selling",
                "/admin/customers",
            )

        return await confirmation(request, await asyncio.to_thread(load), "No such customer")

    @router.post("/customers/{customer_id}/stop", response_model=None)
    async def stop(
        request: Request, customer_id: str, csrf: Annotated[str, Form(max_length=200)] = ""
    ) -> Response:
        def work() -> str:
            with ctx.sessions.begin() as s:
                key = "stopped" if stop_selling(s, customer_id) else "already_stopped"
            return "/admin/customers?" + urlencode({key: customer_id})

        return await form_action(request, csrf, work, "No such customer")

    @router.get("/orders/{order_id}/refund", response_model=None)
    async def confirm_refund(request: Request, order_id: str) -> Response:
        def load() -> Question | str | None:
            with ctx.sessions() as s:
                sale = find_sale(s, order_id)
            if sale is None or sale["upgrade_of"]:
                return None
            if sale["status"] != "paid":
                return "/admin/sales?" + urlencode({"already_refunded": order_id})
            amount = format_amount(sale["amount"], sale["currency"])
            return Question(
                f"Refund {amount}?",
                [
                    f"Order {order_id}: {sale['product']} {sale['addon']} {sale['version']}, "
                    f"bought by {sale['customer_id']} on {sale['paid_at'][:10]}.",
                    "The money goes back to their card through the payment gateway; the add-on "
                    "stops working at their next licence renewal. This cannot be undone.",
                ],
                f"/admin/orders/{quote(order_id, safe='')}/refund",
                f"Refund {amount}",
                "/admin/sales",
            )

        return await confirmation(request, await asyncio.to_thread(load), "No such order")

    @router.post("/orders/{order_id}/refund", response_model=None)
    async def refund(
        request: Request, order_id: str, csrf: Annotated[str, Form(max_length=200)] = ""
    ) -> Response:
        def work() -> str:
            result = refund_order(ctx.sessions, ctx.gateway, order_id, ctx.clock())
            key = "already_refunded" if result["already_refunded"] else "refunded"
            return "/admin/sales?" + urlencode({key: order_id})

        return await form_action(request, csrf, work, "No such order")

    return router
