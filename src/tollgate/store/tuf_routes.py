"""HTTP routes of the TUF repository (see store/repository.py): metadata by consistent-snapshot
name, and the store documents by digest. Everything here is public; nothing here is trusted
until the client's TUF checks pass."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from tollgate.store.db import StoreDocument
from tollgate.store.services.errors import StoreError

if TYPE_CHECKING:
    from tollgate.store.app import StoreContext

METADATA_NAME = re.compile(r"^([1-9][0-9]{0,9})\.([A-Za-z0-9_.-]{1,120})\.json$")
DOCUMENT_NAME = re.compile(r"^([0-9a-f]{64})\.([a-z]+\.json)$")
JSON = "application/json"


def tuf_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter()
    repo = ctx.repository

    @router.get("/v1/store", summary="Where the store's TUF repository starts (not trusted)")
    async def get_store() -> dict[str, Any]:
        def read() -> bytes | None:
            with ctx.sessions() as s:
                return repo.version_bytes(s, "root", 1)

        root = await asyncio.to_thread(read)
        return {
            "store_id": ctx.store_id,
            "name": ctx.folder.config.name,
            "root": "/v1/tuf/1.root.json",
            "root_sha256": hashlib.sha256(root or b"").hexdigest(),
        }

    @router.get("/v1/tuf/timestamp.json", summary="TUF timestamp (re-signed before it expires)")
    async def get_timestamp() -> Response:
        def fresh() -> bytes:
            with ctx.sessions.begin() as s:
                return repo.fresh_timestamp(s)

        return Response(await asyncio.to_thread(fresh), media_type=JSON)

    @router.get("/v1/tuf/{file_name}", summary="TUF metadata: VERSION.ROLE.json")
    async def get_metadata(file_name: str) -> Response:
        match = METADATA_NAME.match(file_name)
        if not match:
            raise StoreError("not_found", "TUF metadata is named VERSION.ROLE.json")

        def read() -> bytes | None:
            with ctx.sessions() as s:
                return repo.version_bytes(s, match.group(2), int(match.group(1)))

        body = await asyncio.to_thread(read)
        if body is None:
            raise StoreError("not_found", f"no metadata {file_name}")
        return Response(body, media_type=JSON)

    @router.get("/v1/targets/store/{file_name}", summary="A store document: SHA256.NAME")
    async def get_document(file_name: str) -> FileResponse:
        match = DOCUMENT_NAME.match(file_name)
        if match is None:
            raise StoreError("not_found", "store documents are named SHA256.NAME")
        digest, name = match.groups()

        def known() -> bool:
            with ctx.sessions() as s:
                row = s.get(StoreDocument, digest)
                return row is not None and row.name == name

        if not await asyncio.to_thread(known):
            raise StoreError("not_found", f"no store document {file_name}")
        return FileResponse(repo.blobs.path(digest), media_type=JSON)

    return router
