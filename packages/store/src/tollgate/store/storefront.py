"""The storefront: pages for people (catalog, product pages) and the buttons that hand a request
to the download program.

A "Get" or "Buy" button answers with an install list for the browser's machine, as its
User-Agent describes it, saying what was clicked (``action``, ``addon``), with the media type the
download program is registered for; the page also offers the same request as a ``tollgate://``
link (wire/handoff.py). The browser never sees a key or a card: the download program checks the
list against TUF, shows what it costs, asks, and makes and signs the purchase itself.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tollgate.crypto import canonical
from tollgate.protocol.environment import Environment
from tollgate.store.install_routes import install_list_for
from tollgate.store.pages import Pages
from tollgate.store.services.errors import StoreError
from tollgate.store.services.storefront import ProductView, list_products, product_view
from tollgate.wire.handoff import HandOff
from tollgate.wire.install_list import MEDIA_TYPE

if TYPE_CHECKING:
    from tollgate.store.context import StoreContext

FILE_SUFFIX = ".tollgate"


def storefront_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = Pages(ctx)

    async def not_found(request: Request, detail: str) -> HTMLResponse:
        return await pages.problem(request, 404, "Not found", detail)

    async def find(name: str) -> ProductView | None:
        def load() -> ProductView | None:
            with ctx.sessions() as s:
                try:
                    return product_view(s, name)
                except StoreError:
                    return None

        return await asyncio.to_thread(load)

    @router.get("/", response_class=HTMLResponse)
    async def catalog_page(request: Request) -> HTMLResponse:
        def load() -> list[ProductView]:
            with ctx.sessions() as s:
                return list_products(s)

        products = await asyncio.to_thread(load)
        return await pages.render(request, "catalog.html", {"products": products})

    @router.get("/products/{name}", response_class=HTMLResponse)
    async def product_page(request: Request, name: str) -> HTMLResponse:
        product = await find(name)
        if product is None:
            return await not_found(request, f"This store sells no product called “{name}”.")
        links = {
            a.name: HandOff("buy", ctx.store_id, name, a.name).link()
            for a in product.addons
            if not a.free
        }
        return await pages.render(
            request,
            "product.html",
            {
                "product": product,
                "core_link": HandOff("install", ctx.store_id, name).link(),
                "addon_links": links,
            },
        )

    @router.get("/products/{name}/get", response_model=None)
    async def button(request: Request, name: str, addon: str | None = None) -> Response:
        product = await find(name)
        if product is None:
            return await not_found(request, f"This store sells no product called “{name}”.")
        offered = None if addon is None else product.addon(addon)
        if addon is not None and (offered is None or offered.free):
            return await not_found(request, f"{name} has no add-on for sale called “{addon}”.")
        handoff = HandOff("install" if addon is None else "buy", ctx.store_id, name, addon)
        environment = Environment.from_user_agent(request.headers.get("user-agent", ""))
        try:
            doc = await install_list_for(ctx, name, environment, handoff)
        except StoreError as exc:
            title = "Not available for this computer"
            return await pages.problem(request, 409, title, exc.detail)
        filename = f"{name}-{product.version}{'' if addon is None else '-' + addon}{FILE_SUFFIX}"
        return Response(
            canonical.dumps(doc),
            media_type=MEDIA_TYPE,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
