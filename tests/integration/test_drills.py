"""Load and fault drills (issue 18, item 6; docs/reliability.md reports their figures): many
identical purchases at once across two store processes, the store killed at each point of a
purchase, the database stopped under a running store, the client's disk filled mid-download,
the client killed mid-download. Each counts the charges the sandbox gateway made: one.

Each drill prints its figures (``pytest -s``) and, with ``TOLLGATE_DRILL_REPORT=FILE``, adds
them to FILE as JSON lines: what docs/reliability.md quotes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from test_attacks import MT_DIC2, signed_order
from test_cli import REG, tg
from test_downloads import big_product
from test_purchase import succeeded_charges

from conftest import MT, Customer, LiveStore, registered, start_store
from private_postgres import PrivateCluster
from slow_line import slow_line
from store_process import free_port, served, start
from tollgate.store.db import Licence, Order
from tollgate.store.failpoints import POINTS

pytestmark = pytest.mark.drill
CARD = ["--card", "4242424242424242"]


def report(drill: str, **figures: Any) -> None:
    line = {"drill": drill, **figures}
    print(json.dumps(line))
    if path := os.environ.get("TOLLGATE_DRILL_REPORT"):
        with open(path, "a") as out:
            out.write(json.dumps(line) + "\n")


def rows(store: LiveStore, table: type) -> int:
    with store.ctx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


@pytest.fixture
def pg_store(tmp_path: Path, postgres_url: str) -> Iterator[LiveStore]:
    live = start_store(tmp_path / "store", postgres_url, [MT])
    yield live
    live.server.stop()
    live.ctx.close()


@pytest.mark.postgres
@pytest.mark.parametrize("keys", ["one key", "a key each"])
def test_100_identical_purchases_on_two_processes_charge_once(
    pg_store: LiveStore, tmp_path: Path, machine_a: str, keys: str
) -> None:
    """One customer's 100 simultaneous orders for one add-on, half to each of two store
    processes on one PostgreSQL database: retries of one request (one Idempotency-Key), or a
    customer clicking 100 times (a key each)."""
    who: Customer = registered(pg_store, tmp_path / "home", products=("MT",))
    with served(pg_store.folder.path) as first, served(pg_store.folder.path) as second:
        urls = [first, second]

        def order(i: int) -> tuple[int, str | None]:
            url = urls[i % 2]
            idem = "drill-one-key-0001" if keys == "one key" else f"drill-key-{i:04d}"
            content, headers = signed_order(pg_store, who, MT_DIC2, idem, base_url=url)
            r = httpx.post(f"{url}/v1/orders", content=content, headers=headers, timeout=60)
            body = r.json()
            return r.status_code, body.get("order_id") or body.get("code")

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(order, range(100)))
        took = time.monotonic() - started
    statuses = Counter(status for status, _ in answers)
    # Each answer is the one order, paid, or "being paid elsewhere": never a second order.
    assert set(statuses) <= {200, 409}, answers
    assert len({said for status, said in answers if status == 200}) == 1, answers
    assert all(said == "order_in_progress" for status, said in answers if status == 409)
    charges = succeeded_charges(pg_store)
    assert charges == 1 and rows(pg_store, Order) == 1 and rows(pg_store, Licence) == 1
    report(
        "concurrent-purchases",
        keys=keys,
        requests=100,
        processes=2,
        answers=dict(statuses),
        orders=rows(pg_store, Order),
        charges=charges,
        seconds=round(took, 2),
    )


def buy(home: Path) -> subprocess.CompletedProcess[str]:
    return tg(home, "buy", "MT", "dic2", "--yes", "--json")


@pytest.mark.parametrize("point", POINTS)
def test_the_store_killed_mid_purchase_charges_once_and_delivers(
    store: LiveStore, tmp_path: Path, point: str
) -> None:
    """The store process dies (SIGKILL, store/failpoints.py) at ``point`` of a purchase; the
    customer's next `tollgate buy`, against the restarted store, finishes it: one charge."""
    port = free_port()
    home = tmp_path / "home"
    proc, url = start(store.folder.path, port=port)
    try:
        assert tg(home, "register", url, *REG, *CARD).returncode == 0
        assert tg(home, "install", "MT").returncode == 0
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    proc, url = start(store.folder.path, port=port, env={"TOLLGATE_FAILPOINTS": point})
    killed = buy(home)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the store did not reach " + point
    assert killed.returncode == 5, (killed.stdout, killed.stderr)
    problem = json.loads(killed.stdout)["error"]
    assert "may have been placed and charged" in problem["detail"], problem
    charged_before = succeeded_charges(store)
    proc, url = start(store.folder.path, port=port)
    try:
        started = time.monotonic()
        again = buy(home)
        took = time.monotonic() - started
        run = tg(home, "run", "MT", "the", "old", "river")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert again.returncode == 0, (again.stdout, again.stderr)
    done = json.loads(again.stdout)
    assert succeeded_charges(store) == 1
    # Charged before the kill: the retry says it charged nothing; else it made the one charge.
    assert done["charged_now"] == (0 if charged_before else 300), done
    assert run.returncode == 0 and "古い 川" in run.stdout, run.stderr
    report(
        "store-killed",
        point=point,
        backend=store.ctx.sessions.kw["bind"].dialect.name,
        charged_before_kill=charged_before,
        charged_by_retry=done["charged_now"],
        charges=succeeded_charges(store),
        retry_seconds=round(took, 2),
    )


def test_the_database_stopped_and_started_under_a_running_store(
    tmp_path: Path, machine_a: str
) -> None:
    """A private PostgreSQL cluster stopped while a customer buys: the store answers 503-class
    problems at once, the client says the store is unavailable (exit 5, not tampering) and
    nothing is charged; started again, the same store process (never restarted) sells."""
    cluster = PrivateCluster()
    try:
        cluster.start()
        live = start_store(tmp_path / "store", cluster.url, [MT])
        live.server.stop()  # only the process below serves; `live` counts the charges
        home = tmp_path / "home"
        proc, url = start(live.folder.path)
        try:
            assert tg(home, "register", url, *REG, *CARD).returncode == 0
            assert tg(home, "install", "MT").returncode == 0
            cluster.stop()
            started = time.monotonic()
            down = buy(home)
            answered_in = time.monotonic() - started
            listed = tg(home, "catalog")
            cluster.start()
            started = time.monotonic()
            up = buy(home)
            recovered_in = time.monotonic() - started
            still_running = proc.poll() is None
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        assert down.returncode == 5, (down.stdout, down.stderr)
        said = json.loads(down.stdout)["error"]["detail"]
        assert "unavailable" in said and "try again" in said, said
        assert "TUF" not in said and "integrity" not in said.lower()
        assert listed.returncode == 5 and "unavailable" in listed.stderr, listed.stderr
        assert up.returncode == 0, (up.stdout, up.stderr)
        assert json.loads(up.stdout)["charged_now"] == 300
        assert still_running
        charges = succeeded_charges(live)
        live.ctx.close()
        assert charges == 1
        report(
            "database-outage",
            client_exit_during_outage=down.returncode,
            answered_in_seconds=round(answered_in, 2),
            first_buy_after_restart_seconds=round(recovered_in, 2),
            store_restarted=False,
            charges=charges,
        )
    finally:
        cluster.remove()


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only)."""
    where.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """A ballast file taking all but about ``leave`` bytes of ``folder``'s file system."""
    ballast = folder / "ballast"
    free = shutil.disk_usage(folder).free
    with ballast.open("wb") as out:
        out.truncate(0)
        remaining = max(free - leave, 0)
        block = b"\0" * (1 << 20)
        while remaining > 0:
            written = out.write(block[: min(len(block), remaining)])
            remaining -= written
    return ballast


@pytest.mark.parametrize("leave", [40_000, 100_000, 160_000])
def test_a_full_disk_mid_download_is_named_and_finishes_once_freed(
    store: LiveStore, tmp_path: Path, leave: int
) -> None:
    """The customer's folder on a 16 MB disk, filled but ``leave`` bytes before buying a
    150 kB add-on: the disk fills before the order or during the download. Either way 'no
    space left on' that disk, the charge said if there was one, nothing called damaged; once
    space is freed, the next buy finishes it, charging once in all."""
    with small_disk(tmp_path / "small", "16m") as disk:
        home = disk / "home"
        assert tg(home, "register", store.url, *REG, *CARD).returncode == 0
        assert tg(home, "install", "Tools").returncode == 0
        ballast = fill(disk, leave=leave)
        full = tg(home, "buy", "Tools", "pro", "--yes", "--json")
        charged_when_full = succeeded_charges(store)
        listed = tg(home, "list")
        ballast.unlink()
        freed = tg(home, "buy", "Tools", "pro", "--yes", "--json")
        listed_after = tg(home, "list", "--json")
    assert full.returncode == 2, (full.stdout, full.stderr)
    said = json.loads(full.stdout)["error"]["detail"]
    assert f"no space left on tmpfs (mounted at {tmp_path / 'small'}" in said, said
    if charged_when_full:  # the disk filled after the charge: what was charged is said
        assert "50.00 USD" in said and "nothing more will be charged" in said, said
    for output in (said, listed.stderr):
        assert "damaged" not in output and "Move it aside" not in output
    assert listed.returncode in (0, 2), listed.stderr
    assert listed.returncode == 0 or "no space left" in listed.stderr
    assert freed.returncode == 0, (freed.stdout, freed.stderr)
    assert json.loads(freed.stdout)["charged_now"] == (0 if charged_when_full else 5000)
    assert succeeded_charges(store) == 1
    tools = next(p for p in json.loads(listed_after.stdout) if p["name"] == "Tools")
    assert "pro" in tools["addons"], tools
    report(
        "full-disk",
        disk="16 MB tmpfs",
        left_free_bytes=leave,
        exit_when_full=full.returncode,
        charged_before_disk_filled=charged_when_full,
        list_when_full=listed.returncode,
        charged_by_retry=json.loads(freed.stdout)["charged_now"],
        charges=succeeded_charges(store),
    )


def test_the_client_killed_mid_download_resumes_where_it_stopped(
    tmp_path: Path, database_url: str, machine_a: str
) -> None:
    """`tollgate install` of a 6 MB product over a slow line, killed (SIGKILL) part-way: the
    next run fetches only what was missing."""
    size = 6 * 1024 * 1024
    source = big_product(tmp_path / "big-src", size)
    live = start_store(tmp_path / "store", database_url, [source], part_size=256 * 1024)
    try:
        with slow_line(live.url, 2 * 1024 * 1024) as url:
            home = tmp_path / "home"
            assert tg(home, "register", url, *REG, *CARD).returncode == 0
            env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=machine_a)
            first = subprocess.Popen(
                [sys.executable, "-m", "tollgate", "install", "Big", "--json"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            part: Path | None = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                found = list(home.rglob("data.bin.part"))
                if found and found[0].stat().st_size > size // 3:
                    part = found[0]
                    break
                time.sleep(0.05)
            first.kill()
            first.wait()
            assert part is not None, "the download never got a third of the way"
            kept = part.stat().st_size
            second = tg(home, "install", "Big", "--json")
    finally:
        live.server.stop()
        live.ctx.close()
    assert second.returncode == 0, second.stderr
    fetched = json.loads(second.stdout)["fetched"]
    assert fetched <= size - kept + 256 * 1024, (fetched, kept)  # at most one part again
    assert not part.exists()
    report(
        "client-killed",
        file_bytes=size,
        kept_at_kill=kept,
        fetched_by_resume=fetched,
        refetched_bytes=fetched - (size - kept),
    )
