"""The registration bootstrap (DESIGN.md section 5): ``GET /bootstrap`` shows the store's root
fingerprint and the installer's SHA-256, ``GET /bootstrap/tollgate-setup.pyz`` serves the
installer (tollgate/installer.py describes what is inside).

The installer is built from the latest client release and the store's first root, for the
store's public URL (never the request's Host header, which would let anyone make the store
build installers naming any URL), once per client release, deterministically (fixed
timestamps, sorted names), so the SHA-256 on the page is the file's and stays the same until a
new client is published.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import stat
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tollgate.store.db import ClientRelease
from tollgate.store.pages import Pages
from tollgate.store.services.client_releases import client_requirements, latest_client
from tollgate.wire.client_archive import read_archive

if TYPE_CHECKING:
    from tollgate.store.context import StoreContext

INSTALLER_NAME = "tollgate-setup.pyz"
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Installer:
    data: bytes
    client_version: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def build_installer(setup: Mapping[str, object], root: bytes, client: bytes) -> bytes:
    """The zipapp: the installer as ``__main__.py``, its setup, the root, the client archive and
    the client's package unpacked beside them."""
    main = (resources.files("tollgate") / "installer.py").read_bytes()
    members = {
        "__main__.py": main,
        "setup.json": json.dumps(setup, indent=2, sort_keys=True).encode() + b"\n",
        "root.json": root,
        "client.zip": client,
        **read_archive(client),
    }
    out = io.BytesIO()
    out.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = (
                zipfile.ZIP_STORED if name == "client.zip" else zipfile.ZIP_DEFLATED
            )
            zf.writestr(info, members[name])
    return out.getvalue()


def bootstrap_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = Pages(ctx)
    built: dict[tuple[str, str], Installer] = {}  # (store URL, client digest): one entry
    building = threading.Lock()  # one build at a time; requests run in worker threads

    def installer_for(store_url: str) -> Installer:
        with ctx.sessions() as s:
            client = latest_client(s)
            root = ctx.repository.version_bytes(s, "root", 1)
        if client is None or root is None:
            raise LookupError("the store has no download program to offer yet")
        key = (store_url, client.digest)
        with building:
            return built.get(key) or _build(key, client, root)

    def _build(key: tuple[str, str], client: ClientRelease, root: bytes) -> Installer:
        setup = {
            "store_url": key[0],
            "store_id": ctx.store_id,
            "store_name": ctx.folder.config.name,
            "root_sha256": hashlib.sha256(root).hexdigest(),
            "client_version": client.version,
            "client_sha256": client.digest,
            "requirements": client_requirements(),
        }
        archive = ctx.repository.blobs.path(client.digest).read_bytes()
        built.clear()  # only the latest client's installer is kept
        built[key] = Installer(build_installer(setup, root, archive), client.version)
        return built[key]

    async def offered(request: Request) -> Installer | HTMLResponse:
        """The installer for the store's public URL, or a 404 page."""
        try:
            return await asyncio.to_thread(installer_for, ctx.public_url)
        except LookupError as exc:
            return await pages.problem(request, 404, "Not found", str(exc))

    @router.get("/bootstrap", response_class=HTMLResponse)
    async def bootstrap_page(request: Request) -> HTMLResponse:
        installer = await offered(request)
        if not isinstance(installer, Installer):
            return installer
        context = {"installer": installer, "file_name": INSTALLER_NAME}
        return await pages.render(request, "bootstrap.html", context)

    @router.get(f"/bootstrap/{INSTALLER_NAME}")
    async def installer_file(request: Request) -> Response:
        installer = await offered(request)
        if not isinstance(installer, Installer):
            return installer
        return Response(
            installer.data,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{INSTALLER_NAME}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache",
            },
        )

    return router
