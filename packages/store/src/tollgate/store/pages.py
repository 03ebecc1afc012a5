"""Rendering the store's HTML pages (storefront and admin): one Jinja2 environment, the
store's name and root fingerprint on every page, and the headers every page carries."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

import tollgate.web
from tollgate.wire.addons import format_amount
from tollgate.wire.text import clean, human_size

if TYPE_CHECKING:
    from tollgate.store.context import StoreContext

WEB = Path(tollgate.web.__file__).parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
# Pages run no script and may not be framed (clickjacking a "Buy" or "Stop selling" button).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _shown(value: Any) -> Any:
    return clean(value) if isinstance(value, str) else value


class Pages:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._templates = Jinja2Templates(directory=TEMPLATES)  # autoescaped
        # Every value a page shows loses its control characters (wire/text.py) before it is
        # escaped: vendor and customer text is shown as text.
        self._templates.env.finalize = lambda value: (
            clean(value) if isinstance(value, str) else value
        )
        self._templates.env.filters["money"] = format_amount
        self._templates.env.filters["size"] = human_size
        self._fingerprint: str | None = None

    def root_fingerprint(self) -> str:
        """SHA-256 of the store's first root: what a customer compares before trusting it."""
        if self._fingerprint is None:
            with self._ctx.sessions() as s:
                root = self._ctx.repository.version_bytes(s, "root", 1) or b""
            self._fingerprint = hashlib.sha256(root).hexdigest()
        return self._fingerprint

    async def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        common = {
            "store_name": self._ctx.folder.config.name,
            "fingerprint": await asyncio.to_thread(self.root_fingerprint),
        }
        return self._templates.TemplateResponse(
            request,
            template,
            {**common, **context},
            status_code=status,
            headers={**PAGE_HEADERS, **(headers or {})},
        )

    async def problem(self, request: Request, status: int, title: str, detail: str) -> HTMLResponse:
        return await self.render(
            request, "problem.html", {"title": title, "detail": detail}, status
        )
