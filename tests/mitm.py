"""A man in the middle for the client's HTTP: an httpx transport in front of the real store on
loopback, answering some requests with what an attacker (or a broken network) would send."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx

Rewrite = Callable[[str], bytes | None]
Tamper = Callable[[httpx.Request, httpx.Response], httpx.Response | None]


class ManInTheMiddle(httpx.HTTPTransport):
    """``rewrite(path)`` may answer a path with forged bytes (200); ``tamper(request, real)``
    may replace the store's real response. Anything left alone passes through."""

    def __init__(self, rewrite: Rewrite | None = None, tamper: Tamper | None = None) -> None:
        super().__init__()
        self.rewrite, self.tamper = rewrite, tamper

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        forged = self.rewrite(request.url.path) if self.rewrite else None
        if forged is not None:
            return httpx.Response(200, content=forged, request=request)
        real = super().handle_request(request)
        if self.tamper is None:
            return real
        real.read()
        changed = self.tamper(request, real)
        return real if changed is None else changed


def answer(suffix: str, forged: bytes) -> Rewrite:
    return lambda path: forged if path.endswith(suffix) else None


class _Stream(httpx.SyncByteStream):
    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._blocks


def streamed(real: httpx.Response, blocks: Iterator[bytes]) -> httpx.Response:
    """A response with the real status and headers and a body of ``blocks``."""
    headers = [(k, v) for k, v in real.headers.items() if k.lower() != "content-length"]
    return httpx.Response(real.status_code, headers=headers, stream=_Stream(blocks))
