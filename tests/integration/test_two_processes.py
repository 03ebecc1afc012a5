"""Two store server processes on one PostgreSQL database: a purchase raced between them is
charged exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_attacks import MT_DIC2, signed_order
from test_purchase import succeeded_charges

from conftest import MT, Customer, LiveStore, registered, start_store
from store_process import served


@pytest.fixture
def pg_store(tmp_path: Path, postgres_url: str) -> Iterator[LiveStore]:
    live = start_store(tmp_path / "store", postgres_url, [MT])
    yield live
    live.server.stop()
    live.ctx.close()


@pytest.mark.postgres
def test_two_server_processes_charge_once(
    pg_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    who: Customer = registered(pg_store, tmp_path / "home", products=("MT",))
    with served(pg_store.folder.path) as first, served(pg_store.folder.path) as second:
        urls = [first, second]
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
