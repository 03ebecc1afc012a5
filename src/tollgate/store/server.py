"""Serving the store with uvicorn: in the foreground (CLI) or in a thread (demo, tests).

Limits on connections, against clients that hold them open doing nothing (slowloris):

- ``HEADER_TIMEOUT``: a request's headers must be complete this many seconds after its first
  byte arrives (or after the connection opens); otherwise the connection is closed. uvicorn
  times out idle keep-alive connections (``KEEP_ALIVE``) but not a request whose headers
  trickle in, hence `GuardedH11Protocol`.
- ``MAX_CONNECTIONS``: connections and requests in flight at once; beyond it uvicorn answers
  503 at once instead of queueing.
- bodies are capped at 64 KiB before any route runs (store/app.py ``BodyLimit``); a body sent
  slowly is bounded by that size, not by time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tollgate.store.app import StoreContext, build_asgi

HEADER_TIMEOUT = 10.0  # seconds
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
MAX_CONNECTIONS = 256


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers take longer than
    ``header_timeout`` seconds to arrive."""

    header_timeout = HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of a next request on a kept-alive connection
        before = self.scope
        super().data_received(data)
        if self.scope is not before:  # a request's headers are complete
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _protocol(header_timeout: float) -> type[GuardedH11Protocol]:
    return type("Guarded", (GuardedH11Protocol,), {"header_timeout": header_timeout})


def _config(ctx: StoreContext, header_timeout: float, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        build_asgi(ctx),
        http=_protocol(header_timeout),
        timeout_keep_alive=KEEP_ALIVE,
        limit_concurrency=MAX_CONNECTIONS,
        access_log=False,
        **options,
    )


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_forever(ctx: StoreContext, host: str, port: int) -> None:
    ctx.served_at = f"http://{host}:{port}"
    uvicorn.Server(_config(ctx, HEADER_TIMEOUT, host=host, port=port, log_level="info")).run()


def serve_in_thread(
    ctx: StoreContext,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    header_timeout: float = HEADER_TIMEOUT,
) -> RunningServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}"
    ctx.served_at = url
    server = uvicorn.Server(_config(ctx, header_timeout, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the store did not start")
        time.sleep(0.02)
    return RunningServer(server, thread, url)
