"""`tollgate store serve` as a separate process, for the tests that need the production server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/v1/store", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{url} did not start: {proc.communicate()[0]}")


def start(
    folder: Path, *, port: int | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """Start `tollgate store serve` for ``folder`` on ``port`` (a free one if None), with
    ``env`` added to this process's environment; return it and its URL."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tollgate", "store", "serve", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    _wait_up(url, proc)
    return proc, url


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """Serve ``folder`` with `tollgate store serve` on a free port; yield its URL; on leaving,
    stop it with SIGTERM and check that it shut down cleanly."""
    proc, url = start(folder)
    try:
        yield url
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    # uvicorn shuts down gracefully, then re-raises SIGTERM so that its exit says why it stopped.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output
