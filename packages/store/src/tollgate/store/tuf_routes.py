"""HTTP routes of the TUF repository (see store/repository.py): metadata by consistent-snapshot
name, the store documents by digest, and the download program's wheels by version and digest.
Everything here is public; nothing here is trusted until the client's TUF checks pass.

JSON is sent gzip-compressed to clients that accept it: the snapshot names every product's role
and the catalog every product, so both grow with the store (docs/benchmarks.md). TUF's length
and hash checks apply to the decoded bytes, as the specification has them.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, Response

from tollgate.store.db import StoreDocument
from tollgate.store.openapi import problems
from tollgate.store.schemas import (
    DOCUMENT_PATTERN,
    METADATA_PATTERN,
    VERSION_PATTERN,
    WHEEL_PATTERN,
)
from tollgate.store.services.client_releases import latest_client, published_release
from tollgate.store.services.errors import StoreError

if TYPE_CHECKING:
    from tollgate.store.context import StoreContext

METADATA_NAME = re.compile(r"\A([1-9][0-9]{0,8})\.([A-Za-z0-9_.-]{1,120})\.json\Z")
DOCUMENT_NAME = re.compile(r"\A([0-9a-f]{64})\.([a-z]+\.json)\Z")
CLIENT_NAME = re.compile(r"([0-9a-f]{64})\.([A-Za-z0-9._+!-]{1,200}\.whl)")
JSON = "application/json"
GZIP_FROM = 1024  # smaller bodies are sent as they are


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (RFC 9110: ``gzip;q=0`` refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower().removeprefix("q=") if params else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def json_response(body: bytes, request: Request) -> Response:
    headers = {"Vary": "Accept-Encoding"}
    if len(body) >= GZIP_FROM and accepts_gzip(request.headers.get("accept-encoding", "")):
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        return Response(packed, media_type=JSON, headers=headers | {"Content-Encoding": "gzip"})
    return Response(body, media_type=JSON, headers=headers)


def tuf_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter()
    repo = ctx.repository

    @router.get("/v1/store", summary="Where the store's TUF repository starts (not trusted)")
    async def get_store() -> dict[str, Any]:
        def read() -> tuple[bytes | None, str | None]:
            with ctx.sessions() as s:
                client = latest_client(s)
                return repo.version_bytes(s, "root", 1), None if client is None else client.version

        root, client_version = await asyncio.to_thread(read)
        return {
            "store_id": ctx.store_id,
            "name": ctx.folder.config.name,
            "root": "/v1/tuf/1.root.json",
            "root_sha256": hashlib.sha256(root or b"").hexdigest(),
            "client": {"version": client_version},
        }

    @router.get("/v1/tuf/timestamp.json", summary="TUF timestamp (re-signed before it expires)")
    async def get_timestamp(request: Request) -> Response:
        def fresh() -> bytes:
            with ctx.sessions.begin() as s:
                return repo.fresh_timestamp(s)

        return json_response(await asyncio.to_thread(fresh), request)

    @router.get(
        "/v1/tuf/{file_name}",
        summary="TUF metadata: VERSION.ROLE.json",
        responses=problems("not_found"),
    )
    async def get_metadata(
        file_name: Annotated[str, Path(pattern=METADATA_PATTERN)], request: Request
    ) -> Response:
        match = METADATA_NAME.fullmatch(file_name)
        if not match:
            raise StoreError("not_found", "TUF metadata is named VERSION.ROLE.json")

        def read() -> bytes | None:
            with ctx.sessions() as s:
                return repo.version_bytes(s, match.group(2), int(match.group(1)))

        body = await asyncio.to_thread(read)
        if body is None:
            raise StoreError("not_found", f"no metadata {file_name}")
        return json_response(body, request)

    @router.get(
        "/v1/targets/store/{file_name}",
        summary="A store document: SHA256.NAME",
        responses=problems("not_found"),
    )
    async def get_document(
        file_name: Annotated[str, Path(pattern=DOCUMENT_PATTERN)], request: Request
    ) -> Response:
        match = DOCUMENT_NAME.fullmatch(file_name)
        if match is None:
            raise StoreError("not_found", "store documents are named SHA256.NAME")
        digest, name = match.groups()

        def read() -> bytes | None:
            with ctx.sessions() as s:
                row = s.get(StoreDocument, digest)
                if row is None or row.name != name:
                    return None
            return repo.blobs.path(digest).read_bytes()

        body = await asyncio.to_thread(read)
        if body is None:
            raise StoreError("not_found", f"no store document {file_name}")
        return json_response(body, request)

    @router.get(
        "/v1/targets/client/{version}/{file_name}",
        summary="A wheel of the latest download program: SHA256.NAME.whl",
        responses=problems("not_found"),
    )
    async def get_client(
        version: Annotated[str, Path(pattern=VERSION_PATTERN)],
        file_name: Annotated[str, Path(pattern=WHEEL_PATTERN)],
    ) -> Response:
        match = CLIENT_NAME.fullmatch(file_name)
        if match is None:
            raise StoreError("not_found", "the download program's wheels are named SHA256.NAME")
        digest, name = match.groups()

        def find() -> str | None:
            with ctx.sessions() as s:
                found = published_release(s, repo)
            if found is None:
                return None
            target = found[1].get(f"client/{version}/{name}")
            return digest if target and target.hashes.get("sha256") == digest else None

        listed = await asyncio.to_thread(find)
        if listed is None:
            raise StoreError("not_found", f"the download program {version} has no {file_name}")
        return FileResponse(repo.blobs.path(listed), media_type="application/octet-stream")

    return router
