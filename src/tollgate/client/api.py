"""HTTP access to one store: plain and signed requests, problem documents, downloads.

The transport is pluggable (httpx), so tests can run the real app in process or over
loopback. Signed requests carry RFC 9421 signatures under the purchase key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tollgate.client.errors import IntegrityFailure, Refused, Unreachable
from tollgate.crypto.httpsig import sign_request

Progress = Callable[[int, int], None]
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Signer:
    def __init__(self, customer_id: str, purchase_key: bytes) -> None:
        self.customer_id, self._key = customer_id, purchase_key

    def headers(self, method: str, url: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
        return sign_request(
            method,
            url,
            extra,
            body,
            key_id=self.customer_id,
            key=self._key,
            now=dt.datetime.now(dt.UTC),
        )


class StoreAPI:
    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url, timeout=TIMEOUT, transport=transport, follow_redirects=False
        )

    @property
    def http(self) -> httpx.Client:
        """The underlying client (for TUF's fetcher, which must share its transport)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def get_bytes(self, path: str) -> bytes:
        """A small unauthenticated document, as bytes."""
        return self._send(self._http.build_request("GET", self.base_url + path)).content

    def __enter__(self) -> StoreAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the store at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            if stream:
                response.read()
            raise _problem(response)
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        signer: Signer | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        content = b"" if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        url = self.base_url + path
        if signer is not None:
            hdrs = signer.headers(method, url, content, hdrs)
        response = self._send(self._http.build_request(method, url, content=content, headers=hdrs))
        try:
            return response.json()
        except ValueError as exc:
            raise IntegrityFailure(f"the store sent a malformed answer to {path}") from exc

    def download(
        self,
        digest: str,
        target: Path,
        *,
        size: int,
        signer: Signer | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Fetch a file by digest into ``target``, resuming a partial ``.part`` file with
        Range, refusing anything longer than ``size`` and anything whose SHA-256 differs."""
        part = target.with_name(target.name + ".part")
        part.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        url = f"{self.base_url}/v1/files/{digest}"
        hdrs = {"Range": f"bytes={have}-"} if 0 < have < size else {}
        if have < size or size == 0:
            if signer is not None:
                hdrs = signer.headers("GET", url, b"", hdrs)
            response = self._send(self._http.build_request("GET", url, headers=hdrs), stream=True)
            mode = "ab" if response.status_code == 206 else "wb"
            received = have if mode == "ab" else 0
            try:
                with part.open(mode) as fh:
                    for block in response.iter_bytes(1 << 20):
                        received += len(block)
                        if received > size:
                            raise IntegrityFailure(
                                f"the store sent more than the {size} bytes signed for {digest}"
                            )
                        fh.write(block)
                        if progress:
                            progress(received, size)
            except httpx.TransportError as exc:
                raise Unreachable(
                    f"download of {digest[:12]} broke off: {exc}; run the command again to resume"
                ) from exc
            finally:
                response.close()
        if _sha256(part) != digest:
            part.unlink(missing_ok=True)
            raise IntegrityFailure(f"downloaded file does not match its digest {digest[:12]}…")
        os.replace(part, target)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _problem(response: httpx.Response) -> Refused:
    try:
        doc = response.json()
        code, detail = str(doc.get("code")), str(doc.get("detail") or doc.get("title"))
    except ValueError:
        code, detail = "", response.text[:200]
    return Refused(detail, code=code, status=response.status_code)
