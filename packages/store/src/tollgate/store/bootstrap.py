"""The registration bootstrap (DESIGN.md section 5): ``GET /bootstrap`` shows the store's root
fingerprint and the installer's SHA-256, ``GET /bootstrap/tollgate-setup.pyz`` serves the
installer (tollgate/installer.py describes what is inside).

The installer is built from the latest client release (its signed targets: the installer
fetches each wheel from the store and checks it against the length and SHA-256 they give) and
the store's first root, for the
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
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from tuf.api.metadata import TargetFile

from tollgate.protocol.client_release import ProgramRelease, client_target
from tollgate.store.pages import Pages
from tollgate.store.services.client_releases import published_release

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


# What the installer imports before the program is installed: the program's and the runtime's
# modules, and ``packaging`` to match wheels to the machine (all pure Python).
EMBEDDED = ("tollgate", "tollgate-runtime", "packaging")


def build_installer(setup: Mapping[str, object], root: bytes, wheels: Mapping[str, bytes]) -> bytes:
    """The zipapp: the import packages of the ``wheels`` given (EMBEDDED) unpacked, without
    their metadata; the program's own ``tollgate/installer.py`` as ``__main__.py``; its setup
    and the root."""
    members = {}
    for data in wheels.values():
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            for info in wheel.infolist():
                top = info.filename.split("/")[0]
                if not info.is_dir() and not top.endswith((".dist-info", ".data")):
                    members[info.filename] = wheel.read(info)
    if "tollgate/installer.py" not in members:
        raise LookupError("the published download program has no installer (tollgate/installer.py)")
    members["__main__.py"] = members["tollgate/installer.py"]
    members["setup.json"] = json.dumps(setup, indent=2, sort_keys=True).encode() + b"\n"
    members["root.json"] = root
    out = io.BytesIO()
    out.write(b"#!/usr/bin/env python3\n")
    # Folder entries too: zipimport finds a namespace package (tollgate/) only by its entry.
    folders = {
        f"{'/'.join(n.split('/')[:i])}/" for n in members for i in range(1, n.count("/") + 1)
    }
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in sorted(folders):
            entry = zipfile.ZipInfo(folder, date_time=_EPOCH)
            entry.external_attr = (stat.S_IFDIR | 0o755) << 16
            zf.writestr(entry, b"")
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, members[name])
    return out.getvalue()


def bootstrap_router(ctx: StoreContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = Pages(ctx)
    built: dict[tuple[str, str], Installer] = {}  # (store URL, client digest): one entry
    building = threading.Lock()  # one build at a time; requests run in worker threads

    def installer_for(store_url: str) -> Installer:
        with ctx.sessions() as s:
            found = published_release(s, ctx.repository)
            root = ctx.repository.version_bytes(s, "root", 1)
        if found is None or root is None:
            raise LookupError(
                "the vendor has published no download program yet (tollgate store publish-client)"
            )
        release, targets = found
        program = targets[client_target(release.version, release.program_file)]
        key = (store_url, program.hashes["sha256"])
        with building:
            return built.get(key) or _build(key, release, targets, root)

    def _build(
        key: tuple[str, str],
        release: ProgramRelease,
        targets: Mapping[str, TargetFile],
        root: bytes,
    ) -> Installer:
        by_name = {path.rsplit("/", 1)[1]: t for path, t in targets.items()}
        files = {n: {"sha256": t.hashes["sha256"], "length": t.length} for n, t in by_name.items()}
        pure = [
            f
            for p, names in release.requirements.items()
            if p.split("==")[0] in EMBEDDED
            for f in names
            if f.endswith("-py3-none-any.whl")
        ]
        embedded = {
            n: ctx.repository.blobs.path(by_name[n].hashes["sha256"]).read_bytes()
            for n in [release.program_file, *pure]
        }
        setup = {
            "store_url": key[0],
            "store_id": ctx.store_id,
            "store_name": ctx.folder.config.name,
            "root_sha256": hashlib.sha256(root).hexdigest(),
            "client_version": release.version,
            "release": release.to_custom(),
            "files": files,
        }
        built.clear()  # only the latest client's installer is kept
        built[key] = Installer(build_installer(setup, root, embedded), release.version)
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
