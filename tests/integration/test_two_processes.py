"""Two store server processes on one PostgreSQL database: a purchase raced between them is
charged exactly once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_attacks import MT_DIC2, signed_order
from test_purchase import succeeded_charges

from conftest import MT, Customer, LiveStore, registered, start_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg_store(tmp_path: Path, postgres_url: str) -> Iterator[LiveStore]:
    live = start_store(tmp_path / "store", postgres_url, [MT])
    yield live
    live.server.stop()


def spawn(folder: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tollgate", "store", "serve", str(folder), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/store", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


@pytest.mark.postgres
def test_two_server_processes_charge_once(
    pg_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    who: Customer = registered(pg_store, tmp_path / "home", products=("MT",))
    ports = [free_port(), free_port()]
    procs = [spawn(pg_store.folder.path, p) for p in ports]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url in urls:
            wait_up(url)
        statuses: list[int] = []

        def one(i: int) -> None:
            url = urls[i % 2]
            content, headers = signed_order(pg_store, who, MT_DIC2, f"idem-proc-{i}", base_url=url)
            statuses.append(
                httpx.post(
                    f"{url}/v1/orders", content=content, headers=headers, timeout=30
                ).status_code
            )

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses.count(200) == 6, statuses
        assert succeeded_charges(pg_store) == 1
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
