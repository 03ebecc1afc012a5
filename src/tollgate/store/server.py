"""Serving the store with uvicorn: in the foreground (CLI) or in a thread (demo, tests)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from tollgate.store.app import StoreContext, build_asgi


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_forever(ctx: StoreContext, host: str, port: int) -> None:
    uvicorn.run(build_asgi(ctx), host=host, port=port, log_level="info", access_log=False)


def serve_in_thread(ctx: StoreContext, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(build_asgi(ctx), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the store did not start")
        time.sleep(0.02)
    return RunningServer(server, thread, f"http://{host}:{actual_port}")
