"""The store's HTTP API (FastAPI): routes translate HTTP to service calls and back.

All API endpoints live under ``/v1``; the storefront's pages (store/storefront.py) at ``/``
and ``/products/…``; OpenAPI at ``/docs``. Every error is an RFC 9457 problem
document with a stable ``code`` (tollgate.wire.problems).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Scope

from tollgate.protocol.httpsig import request_view
from tollgate.store.admin_pages import admin_router
from tollgate.store.auth import Caller, authenticate
from tollgate.store.bootstrap import bootstrap_router
from tollgate.store.context import StoreContext
from tollgate.store.db import (
    AddOn,
    ClientRelease,
    Licence,
    Order,
    Patch,
    ReleasedFile,
)
from tollgate.store.edge import Edge, problem
from tollgate.store.install_routes import install_router
from tollgate.store.openapi import SIGNATURE_SCHEME, SIGNED, honest_openapi, problems
from tollgate.store.pages import STATIC
from tollgate.store.ranges import check_range
from tollgate.store.ratelimit import RateLimiter
from tollgate.store.schemas import (
    DIGEST_PATTERN,
    CardUpdateRequest,
    OrderRequest,
    RegistrationRequest,
    RenewalRequest,
    UsageRequest,
)
from tollgate.store.services.card import update_card
from tollgate.store.services.errors import StoreError
from tollgate.store.services.registration import register
from tollgate.store.services.renewal import renew_leases
from tollgate.store.storefront import storefront_router
from tollgate.store.tuf_routes import tuf_router

log = logging.getLogger("tollgate.store")
CARD_UPDATES_PER_HOUR = 5  # per customer: a signed customer is no card-testing oracle either
CARD_PROBLEMS = (
    "card_declined",
    "expired_card",
    "incorrect_cvc",
    "rate_limited",
    "payment_unavailable",
)
ORDER_PROBLEMS = (
    "not_found",
    "not_for_sale",
    "os_release_required",
    "idempotency_key_reused",
    "order_in_progress",
    "not_an_upgrade",
    "payment_failed",
    "refunded",
    "payment_unavailable",
)
SIGNED_OPERATION: dict[str, Any] = {"security": [{SIGNATURE_SCHEME: []}]}


class BlobResponse(FileResponse):
    """A released file, read in 1 MiB chunks instead of Starlette's 64 KiB: each chunk is a
    round trip through a worker thread and the event loop, and at 64 KiB that overhead held a
    256 MiB download to a fifth of nginx's speed (docs/benchmarks.md)."""

    chunk_size = 1024 * 1024


def create_app(ctx: StoreContext) -> FastAPI:
    # No redirect for a trailing slash: a 307 that no operation documents, its Location built
    # from the Host header; such a path is simply not one (404).
    app = FastAPI(
        title="Tollgate store",
        version="1",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redirect_slashes=False,
    )
    app.openapi = lambda: honest_openapi(app)  # type: ignore[method-assign]
    keys = ctx.folder.keys
    blobs = ctx.repository.blobs

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> JSONResponse:
        answer = problem(exc.code, exc.detail, **exc.extra)
        answer.headers.update(exc.headers)
        return answer

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()][:10]
        parts = sorted({str(e["loc"][0]) for e in errors if e["loc"]}) or ["body"]
        said = " and ".join("request body" if p == "body" else f"request's {p}" for p in parts)
        return problem("malformed_request", f"the {said} is invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "malformed_request"
        )
        answer = problem(code, str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the first route's methods only
            answer.headers["Allow"] = ", ".join(methods_at(app, request.scope))
        return answer

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(
            "internal_error", "the store failed; the request changed nothing it could not finish"
        )

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Services are synchronous (database and gateway I/O): run them off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    app.include_router(tuf_router(ctx))
    app.include_router(install_router(ctx))
    app.include_router(storefront_router(ctx))
    app.include_router(bootstrap_router(ctx))
    app.include_router(admin_router(ctx))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def signed(
        model: type[BaseModel] | None = None, *, idempotent: bool = False
    ) -> Callable[[Request], Awaitable[Caller]]:
        """A dependency that authenticates a signed request (store/auth.py). Before its nonce
        is remembered, the body must be JSON that ``model`` accepts and, when ``idempotent``,
        the request must carry an ``Idempotency-Key`` of 8 to 255 characters."""

        async def signed_caller(request: Request) -> Caller:
            body = await request.body()
            view = request_view(request.method, str(request.url), request.headers)

            def validate() -> None:
                key = request.headers.get("idempotency-key", "")
                if idempotent and not (
                    8 <= len(key) <= 255 and key.isascii() and key.isprintable()
                ):
                    raise StoreError(
                        "malformed_request",
                        "an Idempotency-Key of 8-255 printable ASCII characters",
                    )
                if model is None:
                    return
                if request.headers.get("content-type", "").split(";")[0] != "application/json":
                    raise StoreError("malformed_request", "the body must be application/json")
                try:
                    model.model_validate_json(body)
                except ValidationError as exc:
                    errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
                    raise StoreError(
                        "malformed_request", "the request body is invalid", errors=errors[:10]
                    ) from exc

            caller: Caller = await run(
                authenticate, ctx.sessions, keys.master, view, body, ctx.clock(), validate
            )
            return caller

        return signed_caller

    any_caller = signed()
    card_caller = signed(CardUpdateRequest)
    order_caller = signed(OrderRequest, idempotent=True)
    renewal_caller = signed(RenewalRequest)
    usage_caller = signed(UsageRequest)

    @app.post(
        "/v1/registrations",
        status_code=201,
        summary="Register a customer (sealed to the store's HPKE key)",
        responses=problems(*CARD_PROBLEMS, "wrong_store", "customer_id_taken"),
    )
    async def post_registration(body: RegistrationRequest, request: Request) -> dict[str, Any]:
        address = request.client.host if request.client else "unknown"
        if not ctx.registration_limit.allow(address):
            raise StoreError(
                "rate_limited", "too many registrations from this address; wait a minute"
            )
        result: dict[str, Any] = await run(
            register,
            ctx.sessions,
            ctx.gateway,
            keys,
            store_id=ctx.store_id,
            request=body,
            now=ctx.clock(),
        )
        return result

    card_updates = RateLimiter(CARD_UPDATES_PER_HOUR, 3600.0)

    @app.post(
        "/v1/card",
        summary="Replace the card on file (sealed; signed with the purchase key)",
        responses=problems(*SIGNED, *CARD_PROBLEMS),
        openapi_extra=SIGNED_OPERATION,
    )
    async def post_card(
        body: CardUpdateRequest, caller: Caller = Depends(card_caller)
    ) -> dict[str, Any]:
        if not card_updates.allow(caller.customer_id):
            raise StoreError("rate_limited", "too many card updates; try again in an hour")
        result: dict[str, Any] = await run(
            update_card,
            ctx.sessions,
            ctx.gateway,
            keys,
            store_id=ctx.store_id,
            customer_id=caller.customer_id,
            request=body,
            now=ctx.clock(),
        )
        return result

    @app.post(
        "/v1/orders",
        summary="Buy an add-on (signed with the purchase key)",
        responses=problems(*SIGNED, *ORDER_PROBLEMS),
        openapi_extra=SIGNED_OPERATION,
    )
    async def post_order(
        order: OrderRequest,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=255)],
        caller: Caller = Depends(order_caller),
    ) -> dict[str, Any]:
        outcome = await run(ctx.orders.place, caller.customer_id, order, idempotency_key)
        result: dict[str, Any] = outcome.to_json()
        return result

    @app.get(
        "/v1/licences",
        summary="The caller's licences (signed request)",
        responses=problems(*SIGNED),
        openapi_extra=SIGNED_OPERATION,
    )
    async def get_licences(caller: Caller = Depends(any_caller)) -> dict[str, Any]:
        def load() -> list[dict[str, Any]]:
            with ctx.sessions() as s:
                rows = s.scalars(
                    select(Licence)
                    .where(Licence.customer_id == caller.customer_id)
                    .order_by(Licence.issued_at)
                ).all()
                return [r.document for r in rows]

        return {"licences": await run(load)}

    @app.post(
        "/v1/licences/renew",
        summary="Renew the leases of the caller's licences (signed)",
        responses=problems(*SIGNED),
        openapi_extra=SIGNED_OPERATION,
    )
    async def post_renewal(
        body: RenewalRequest, caller: Caller = Depends(renewal_caller)
    ) -> dict[str, Any]:
        def renew() -> dict[str, Any]:
            with ctx.sessions.begin() as s:
                return renew_leases(
                    s,
                    keys,
                    store_id=ctx.store_id,
                    customer_id=caller.customer_id,
                    order_ids=body.orders,
                    meter=body.meter,
                    now=ctx.clock(),
                )

        result: dict[str, Any] = await run(renew)
        return result

    @app.post(
        "/v1/uses",
        summary="Metered uses: each event charged at most once (signed)",
        responses=problems(*SIGNED, "order_in_progress", "payment_failed", "payment_unavailable"),
        openapi_extra=SIGNED_OPERATION,
    )
    async def post_uses(
        body: UsageRequest, caller: Caller = Depends(usage_caller)
    ) -> dict[str, Any]:
        return {"results": await run(ctx.usage.record, caller.customer_id, body.events)}

    def _files_of(s: Session, digest: str) -> list[ReleasedFile]:
        """The released files a blob is, or is a patch to."""
        rows = list(s.scalars(select(ReleasedFile).where(ReleasedFile.digest == digest)))
        patched = select(Patch.file_id).where(Patch.digest == digest)
        return rows + list(s.scalars(select(ReleasedFile).where(ReleasedFile.id.in_(patched))))

    def _public(digest: str) -> bool:
        """Whether anyone may fetch the blob: core files, free add-ons and their patches are
        public; encrypted add-ons and their patches go only to customers who bought them."""
        with ctx.sessions() as s:
            rows = _files_of(s, digest)
            if not rows:
                if s.scalars(select(ClientRelease).where(ClientRelease.digest == digest)).first():
                    return True  # the download program is public
                raise StoreError("not_found", "no released file has this digest")
            return any(not r.encrypted for r in rows)

    def _check_entitled(customer_id: str, digest: str) -> None:
        with ctx.sessions() as s:
            for r in _files_of(s, digest):
                paid = s.scalars(
                    select(Order.id)
                    .join(Licence, Licence.order_id == Order.id)
                    .where(
                        Order.customer_id == customer_id,
                        Order.status == "paid",
                        Licence.addon_id.in_(
                            select(AddOn.id).where(
                                AddOn.release_id == r.release_id, AddOn.name == r.addon_name
                            )
                        ),
                    )
                ).first()
                if paid:
                    return
        raise StoreError("not_entitled", "buy this add-on before downloading it")

    @app.get(
        "/v1/files/{digest}",
        summary="A released file by SHA-256; HTTP Range supported",
        response_class=FileResponse,
        responses={
            206: {"description": "The part of the file the Range header asked for"},
            **problems(*SIGNED, "not_found", "not_entitled", "range_not_satisfiable"),
        },
        openapi_extra={"security": [{}, {SIGNATURE_SCHEME: []}]},
    )
    async def get_file(
        digest: Annotated[str, FastAPIPath(pattern=DIGEST_PATTERN)], request: Request
    ) -> FileResponse:
        if not await run(_public, digest):
            caller = await any_caller(request)
            await run(_check_entitled, caller.customer_id, digest)
        path = blobs.path(digest)
        check_range(request.headers.get("range"), path.stat().st_size)
        return BlobResponse(
            path,
            media_type="application/octet-stream",
            headers={"Cache-Control": "private, max-age=0"},
        )

    return app


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def methods_at(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route answers at the request's path (RFC 9110's Allow), asked of the
    router itself: included routers and mounts answer for their own routes."""
    return [
        method
        for method in METHODS
        if any(r.matches({**scope, "method": method})[0] == Match.FULL for r in app.router.routes)
    ]


def build_asgi(ctx: StoreContext) -> ASGIApp:
    return Edge(create_app(ctx))
