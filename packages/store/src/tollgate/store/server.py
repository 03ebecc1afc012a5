"""Serving the store with uvicorn: in the foreground (CLI) or in a thread (demo, tests).

Limits on connections, against clients that hold them open doing nothing (slowloris):

- ``REQUEST_TIMEOUT``: a request, headers and body, must have arrived whole this many seconds
  after its first byte (or after the connection opens); otherwise the connection is closed.
  uvicorn times out idle keep-alive connections (``KEEP_ALIVE``) but not a request whose
  headers or body trickle in, or never come, hence `GuardedH11Protocol`.
- ``MAX_CONNECTIONS``: connections and requests in flight at once; beyond it uvicorn answers
  503 at once instead of queueing.
- bodies are capped at 64 KiB before any route runs (store/edge.py ``Edge``), and text no
  database can hold (NUL, control characters) is refused there too.
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

from tollgate.store.app import build_asgi
from tollgate.store.context import StoreContext

REQUEST_TIMEOUT = 10.0  # seconds
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open
MAX_CONNECTIONS = 256


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request (headers and body) takes
    longer than ``request_timeout`` seconds to arrive."""

    request_timeout = REQUEST_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._timed: object = None  # the request cycle before the one being timed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of a next request on a kept-alive connection
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and cycle is not self._timed and not cycle.more_body:
            self._disarm()  # the request being timed is all here

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._timed = self.cycle
        self._timer = self.loop.call_later(self.request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _protocol(request_timeout: float) -> type[GuardedH11Protocol]:
    return type("Guarded", (GuardedH11Protocol,), {"request_timeout": request_timeout})


def _config(ctx: StoreContext, request_timeout: float, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        build_asgi(ctx),
        http=_protocol(request_timeout),
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


class PortInUse(OSError):
    """The address to serve on is taken (or may not be bound here)."""


def listen(host: str, port: int) -> socket.socket:
    """The listening socket for ``host:port``, bound before uvicorn starts so that a port in
    use is one clear error rather than a server log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortInUse(exc.errno, f"{host}:{port}: {exc.strerror}") from exc
    return sock


def serve_forever(ctx: StoreContext, sock: socket.socket) -> None:
    uvicorn.Server(_config(ctx, REQUEST_TIMEOUT, log_level="info")).run(sockets=[sock])


def serve_in_thread(
    ctx: StoreContext,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    request_timeout: float = REQUEST_TIMEOUT,
) -> RunningServer:
    sock = listen(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    ctx.served_at = url
    server = uvicorn.Server(_config(ctx, request_timeout, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the store did not start")
        time.sleep(0.02)
    return RunningServer(server, thread, url)
