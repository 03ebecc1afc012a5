"""HTTP route of the install list: ``GET /v1/products/{name}/install-list?os=…&tag=…``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from tollgate.crypto import canonical
from tollgate.protocol.environment import FIELDS, MAX_TAGS, BadEnvironment, Environment
from tollgate.store.openapi import problems
from tollgate.store.schemas import NAME_PATTERN
from tollgate.store.services.errors import StoreError
from tollgate.store.services.install_list import build_install_list
from tollgate.wire.handoff import HandOff
from tollgate.wire.install_list import MEDIA_TYPE

if TYPE_CHECKING:
    from tollgate.store.context import StoreContext


async def install_list_for(
    ctx: StoreContext,
    product: str,
    environment: Environment,
    handoff: HandOff | None = None,
) -> dict[str, Any]:
    """The install list of ``product`` for ``environment``, naming the store by its public URL
    (never by the request's Host header)."""
    store_url = ctx.public_url

    def build() -> dict[str, Any]:
        with ctx.sessions() as s:
            return build_install_list(
                s,
                product=product,
                environment=environment,
                store_id=ctx.store_id,
                store_url=store_url,
                handoff=handoff,
            )

    return await asyncio.to_thread(build)


# The environment in the query (protocol/environment.py ``from_query``), for the OpenAPI: the
# route reads the query itself, refusing any parameter not named here.
ENVIRONMENT_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": field,
        "in": "query",
        "required": True,
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.+~-]{0,79}$"},
    }
    for field in FIELDS
] + [
    {
        "name": "tag",
        "in": "query",
        "required": False,
        "description": "a packaging.tags name this machine supports, once per tag",
        "schema": {
            "type": "array",
            "maxItems": MAX_TAGS,
            "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.]{0,79}$"},
        },
        "style": "form",
        "explode": True,
    }
]


def install_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/products/{name}/install-list",
        summary="What to install of a product on the environment given in the query",
        response_class=Response,
        responses={
            200: {"content": {MEDIA_TYPE: {}}},
            **problems("not_found", "environment_unsupported"),
        },
        openapi_extra={"parameters": ENVIRONMENT_PARAMETERS},
    )
    async def get_install_list(
        name: Annotated[str, Path(pattern=NAME_PATTERN)], request: Request
    ) -> Response:
        try:
            environment = Environment.from_query(request.query_params.multi_items())
        except BadEnvironment as exc:
            raise StoreError("malformed_request", f"bad environment: {exc}") from exc
        body = await install_list_for(ctx, name, environment)
        return Response(
            canonical.dumps(body),
            media_type=MEDIA_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    return router
