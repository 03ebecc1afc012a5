"""A slow line on loopback: a TCP relay in front of a real store that passes the store's answers
on at a set rate, so a test can act (press Ctrl-C, cut the line) in the middle of a download
that would otherwise be over in milliseconds. Requests go through untouched."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

CHUNK = 16 * 1024


def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
            if delay:
                time.sleep(delay)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@contextmanager
def slow_line(store_url: str, bytes_per_second: int) -> Iterator[str]:
    """A URL that reaches ``store_url`` with its answers slowed to about ``bytes_per_second``."""
    target = urlsplit(store_url)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    delay = CHUNK / bytes_per_second
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection((target.hostname, target.port))
            threading.Thread(target=_pump, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client, delay), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
