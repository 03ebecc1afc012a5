"""Money moves only when the customer means it, and every command says what it did: `buy` of an
add-on already owned, of one whose product is not installed, a "no", Ctrl-C after the charge,
and the vendor's refund and stop-selling. Through the real CLI against a store on loopback."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from test_cli import REG, tg
from test_errors_that_diagnose import immutable

from conftest import MACHINE_A, LiveStore, serving, write_tree
from slow_line import slow_line
from tollgate.client.account import accounts
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.purchase import keep_order, place_order
from tollgate.runtime.home import ClientHome
from tollgate.store.db import Order
from tollgate.store.schemas import OrderRequest

PAINT_SIZE = 6 * 1024 * 1024  # long enough on a slow line to press Ctrl-C in the middle
PAINT = """
[product]
name = "Paint"
version = "1.0.0"
summary = "Paints"

[core]
files = ["paint/*.py"]
entry = "paint.app:main"

[[addon]]
name = "brushes"
function = "brushes"
revision = 1
price = 500
currency = "JPY"
files = ["addons/brushes/**"]
policy = { kind = "perpetual" }
"""


def paint_product(where: Path) -> Path:
    write_tree(
        where,
        {
            "tollgate.toml": PAINT,
            "paint/__init__.py": "",
            "paint/app.py": "def main():\n    return 0\n",
            "addons/brushes/__init__.py": "",
        },
    )
    (where / "addons" / "brushes" / "set.bin").write_bytes(os.urandom(PAINT_SIZE))
    return where


def charges(store: LiveStore) -> list[tuple[str, int]]:
    with store.ctx.sessions() as s:
        rows = s.execute(select(Order.id, Order.amount).where(Order.status == "paid")).all()
    return [(r[0], r[1]) for r in rows]


def register(home: Path, url: str, card: str = "4242424242424242") -> str:
    done = tg(home, "register", url, *REG, "--card", card, "--json", "--no-handler")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["customer_id"])


def test_buying_what_is_already_yours_charges_nothing_and_says_so(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    first = tg(home, "buy", "MT", "dic2", "--yes", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["charged_now"] == 300 and report["bought"]["amount"] == 300
    assert report["installed"]["path"]  # MT was not installed: its core came first

    again = tg(home, "buy", "MT", "dic2", "--yes")
    assert again.returncode == 0, again.stderr
    assert "MT dic2 is already yours: nothing charged" in again.stdout
    assert "Bought" not in again.stdout
    as_json = json.loads(tg(home, "buy", "MT", "dic2", "--json").stdout)  # no --yes needed
    assert as_json["owned"] is True and as_json["charged_now"] == 0 and "bought" not in as_json
    assert len(charges(store)) == 1
    history = json.loads(tg(home, "history", "--json").stdout)
    assert [h["action"] for h in history].count("buy") == 1


def test_buy_installs_the_core_first_and_says_so_before_asking(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    unasked = tg(home, "buy", "MT", "dic2")  # no terminal, no --yes: nothing happens
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    assert "MT is not installed: its free core 1.0.0 comes first (4 file(s), " in unasked.stdout
    assert "Buy MT dic2 from Test Store: 300 JPY" in unasked.stdout
    assert json.loads(tg(home, "list", "--json").stdout) == []
    assert charges(store) == []

    done = tg(home, "buy", "MT", "dic2", "--yes")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    installed = next(i for i, line in enumerate(lines) if line.startswith("Installed MT 1.0.0"))
    bought = next(i for i, line in enumerate(lines) if line.startswith("Bought MT dic2: 300 JPY"))
    assert installed < bought
    run = tg(home, "run", "MT", "--", "the", "old", "river")
    assert run.returncode == 0 and "古い" in run.stdout


def test_a_refusal_by_the_store_exits_3_after_the_core_is_in(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    register(home, store.url, card="4000000000009995")  # passes the check, every charge fails
    refused = tg(home, "buy", "MT", "dic2", "--yes")
    assert refused.returncode == 3, refused.stderr
    assert "charged nothing" in refused.stderr and "Traceback" not in refused.stderr
    assert [p["name"] for p in json.loads(tg(home, "list", "--json").stdout)] == ["MT"]
    as_json = tg(home, "buy", "MT", "dic2", "--yes", "--json")
    problem = json.loads(as_json.stdout)["error"]
    assert as_json.returncode == 3 and problem["exit"] == 3 and problem["code"] == "payment_failed"


def at_a_terminal(home: Path, *args: str, answer: bytes) -> tuple[int, str]:
    """Run tollgate with a terminal as stdin (a pseudo-terminal), answering its question."""
    main, child = pty.openpty()
    env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A)
    env.pop("DISPLAY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tollgate", *args],
        stdin=child,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(child)
    os.write(main, answer)
    out, err = proc.communicate(timeout=120)
    os.close(main)
    return proc.returncode, out + err


def test_answering_no_exits_6_and_buys_nothing(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    assert tg(home, "install", "MT").returncode == 0
    status, said = at_a_terminal(home, "buy", "MT", "dic2", answer=b"n\n")
    assert status == 6, said
    assert "Pay 300 JPY?" in said and "cancelled: nothing was bought or charged" in said
    assert charges(store) == []


def test_ctrl_c_after_the_charge_says_what_happened_and_the_next_buy_finishes(
    tmp_path: Path, database_url: str
) -> None:
    source = paint_product(tmp_path / "paint")
    with (
        serving(tmp_path / "store", database_url, [source]) as live,
        slow_line(live.url, 2 * 1024 * 1024) as url,
    ):
        home = tmp_path / "home"
        register(home, url)
        assert tg(home, "install", "Paint").returncode == 0
        env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tollgate", "buy", "Paint", "brushes", "--yes"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        vault = home / "vault"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            p.stat().st_size > 512 * 1024 for p in vault.rglob("*.part")
        ):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        [(order_id, amount)] = charges(live)
        assert amount == 500
        assert f"charged 500 JPY, order {order_id}" in err
        assert "run `tollgate buy Paint brushes` again" in err and "nothing more" in err
        assert "Traceback" not in err
        [kept] = list(vault.rglob("*.part"))
        kept_bytes = kept.stat().st_size
        assert 0 < kept_bytes < PAINT_SIZE
        [listed] = json.loads(tg(home, "list", "--json").stdout)
        assert listed["unfinished"] == [
            {"addon": "brushes", "version": "1.0.0", "order_id": order_id}
        ]
        assert f"paid (order {order_id}), its download unfinished" in tg(home, "list").stdout

        again = tg(home, "buy", "Paint", "brushes", "--json")  # no --yes: nothing to pay
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["paid_earlier"] == order_id and report["charged_now"] == 0
        assert report["bought"]["finished_earlier_order"] is True
        assert report["bought"]["fetched_bytes"] <= PAINT_SIZE - kept_bytes + 4 * 1024**2
        assert charges(live) == [(order_id, 500)]
        owned = tg(home, "buy", "Paint", "brushes")
        assert "already yours: nothing charged" in owned.stdout
    with live.ctx.sessions() as s:
        assert s.scalar(select(func.count(Order.id))) == 1


def test_refund_and_stop_selling_ask_first_and_say_what_they_did(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    customer_id = register(home, store.url)
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    [(order_id, _)] = charges(store)
    folder = str(store.folder.path)

    unasked = tg(home, "store", "refund", folder, order_id)
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    with store.ctx.sessions() as s:
        assert s.get(Order, order_id).status == "paid"  # type: ignore[union-attr]
    refunded = tg(home, "store", "refund", folder, order_id, "--yes")
    assert refunded.returncode == 0, refunded.stderr
    assert f"Refunded 300 JPY to {customer_id} for MT dic2 1.0.0" in refunded.stdout
    twice = tg(home, "store", "refund", folder, order_id)  # nothing to ask: nothing changes
    assert twice.returncode == 0 and "was already refunded" in twice.stdout
    as_json = json.loads(tg(home, "store", "refund", folder, order_id, "--json").stdout)
    assert as_json["already_refunded"] is True
    missing = tg(home, "store", "refund", folder, "ord_nothing", "--yes")
    assert missing.returncode == 2 and "no paid order ord_nothing" in missing.stderr

    status, said = at_a_terminal(home, "store", "stop-selling", folder, customer_id, answer=b"n\n")
    assert status == 6 and "cannot be undone" in said and "nothing changed" in said
    stopped = tg(home, "store", "stop-selling", folder, customer_id, "--yes", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == {
        "customer_id": customer_id,
        "status": "stopped",
        "already_stopped": False,
    }
    again = tg(home, "store", "stop-selling", folder, customer_id)
    assert again.returncode == 0 and "already stopped" in again.stdout


def test_a_kept_order_refunded_meanwhile_is_dropped_and_nothing_charged(
    store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    """An order paid and kept here whose download never finished (as Ctrl-C leaves it), then
    refunded by the vendor: the next buy learns it from the store before asking anything,
    charges nothing, and drops what was kept of it."""
    home_dir = tmp_path / "home"
    register(home_dir, store.url)
    assert tg(home_dir, "install", "MT").returncode == 0
    home = ClientHome(home_dir)
    [account] = accounts(home)
    keys = account.unlock(home, None)
    with StoreAPI(store.url) as api:
        signer = Signer(account.customer_id, keys.purchase_key)
        outcome, licence = place_order(api, account, signer, "MT", "dic2", "1.0.0")
    keep_order(home, account, outcome, licence)  # paid; not one file fetched
    refunded = tg(home_dir, "store", "refund", str(store.folder.path), licence.order_id, "--yes")
    assert refunded.returncode == 0, refunded.stderr

    dropped = tg(home_dir, "buy", "MT", "dic2")  # the store is asked before any question
    assert dropped.returncode == 3, dropped.stderr
    assert "refunded" in dropped.stderr and "Pay" not in dropped.stdout
    assert not list(home.orders_dir(account.store_id).glob("*.json"))  # it no longer stands
    assert "unfinished" not in tg(home_dir, "list").stdout
    assert charges(store) == []  # the refunded order is no longer paid; nothing new


def test_an_order_whose_answer_was_lost_is_found_not_charged_again(
    store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    """The order reached the store but its answer never came back (Ctrl-C or a cut line while
    it was in flight): the next buy is answered with that order, marked placed earlier, and
    says that nothing was charged now."""
    home_dir = tmp_path / "home"
    register(home_dir, store.url)
    assert tg(home_dir, "install", "MT").returncode == 0
    home = ClientHome(home_dir)
    [account] = accounts(home)
    keys = account.unlock(home, None)
    with StoreAPI(store.url) as api:
        lost, _ = place_order(
            api, account, Signer(account.customer_id, keys.purchase_key), "MT", "dic2", "1.0.0"
        )  # charged; the client never kept the answer
    done = tg(home_dir, "buy", "MT", "dic2", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["bought"]["order_id"] == lost["order_id"]
    assert report["charged_now"] == 0 and report["bought"]["finished_earlier_order"] is True
    assert charges(store) == [(lost["order_id"], 300)]


def test_a_failing_disk_after_the_charge_says_what_was_charged(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    assert tg(home, "install", "MT").returncode == 0
    store_id = json.loads(tg(home, "list", "--json").stdout)[0]["store_id"]
    vault = home / "vault" / store_id
    vault.mkdir(parents=True)
    with immutable(vault):
        failed = tg(home, "buy", "MT", "dic2", "--yes")
    assert failed.returncode == 2, failed.stderr
    [(order_id, _)] = charges(store)
    assert f"The purchase is made (charged 300 JPY, order {order_id})" in failed.stderr
    assert "Traceback" not in failed.stderr
    finished = tg(home, "buy", "MT", "dic2", "--yes", "--json")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["charged_now"] == 0
    assert charges(store) == [(order_id, 300)]


def test_two_buys_at_once_charge_once_and_both_finish(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    assert tg(home, "install", "MT").returncode == 0
    env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A)
    command = [sys.executable, "-m", "tollgate", "buy", "MT", "dic2", "--yes", "--json"]
    running = [
        subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    results = [(p.wait(timeout=120), p.communicate()) for p in running]
    assert [status for status, _ in results] == [0, 0], results
    charged = sorted(json.loads(out)["charged_now"] for _, (out, _) in results)
    assert charged == [0, 300] and len(charges(store)) == 1  # one placed it, one found it
    run = tg(home, "run", "MT", "--", "the", "old", "river")
    assert run.returncode == 0 and "古い 川" in run.stdout


def test_a_refund_keeps_when_the_order_was_paid(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    folder = str(store.folder.path)
    [before] = json.loads(tg(home, "store", "sales", folder, "--json").stdout)
    assert tg(home, "store", "refund", folder, before["order_id"], "--yes").returncode == 0
    [after] = json.loads(tg(home, "store", "sales", folder, "--json").stdout)
    assert after["status"] == "refunded" and after["paid_at"] == before["paid_at"]
    listed = tg(home, "store", "sales", folder).stdout
    assert before["order_id"] in listed  # the id `store refund` takes


def test_a_pending_order_charged_by_the_next_buy_says_it_charged_now(
    store: LiveStore, tmp_path: Path
) -> None:
    """The store saved an order and died before charging it: the next buy (after the usual
    question: nothing was paid yet) makes the charge and says so, not "paid earlier"."""
    home = tmp_path / "home"
    customer_id = register(home, store.url)
    assert tg(home, "install", "MT").returncode == 0
    order = OrderRequest(product="MT", addon="dic2", version="1.0.0", upgrade=False)
    store.ctx.orders._find_or_create(customer_id, order, "idem_" + "0" * 32, "x" * 64)
    assert charges(store) == []  # pending, never charged (the crash)
    done = tg(home, "buy", "MT", "dic2", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["charged_now"] == 300 and report["bought"]["finished_earlier_order"] is False
    assert len(charges(store)) == 1


def test_files_in_the_orders_folder_that_are_no_answer_prove_nothing(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    assert tg(home, "install", "MT").returncode == 0
    store_id = json.loads(tg(home, "list", "--json").stdout)[0]["store_id"]
    orders = home / "stores" / store_id / "orders"
    orders.mkdir(parents=True)
    (orders / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (orders / "big.json").write_bytes(b" " * (1024 * 1024))
    (orders / "odd.json").write_text('{"order_id": 1, "amount": true, "licence": {}}')
    os.mkfifo(orders / "fifo.json")
    listed = subprocess.run(
        [sys.executable, "-m", "tollgate", "list"],
        env=dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # a FIFO would block a plain open: it must not
    assert listed.returncode == 0 and "unfinished" not in listed.stdout, listed.stderr
    bought = tg(home, "buy", "MT", "dic2")  # nothing kept counts: the price is asked
    assert bought.returncode == 2 and "Pay 300 JPY?" not in bought.stderr
    assert "Buy MT dic2 from Test Store: 300 JPY" in bought.stdout and charges(store) == []


def test_a_link_asks_before_installing_even_when_the_addon_is_paid_for(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    register(home, store.url)
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    store_id = json.loads(tg(home, "list", "--json").stdout)[0]["store_id"]
    assert tg(home, "uninstall", "MT").returncode == 0
    link = f"tollgate://buy?store={store_id}&product=MT&addon=dic2"
    asked = tg(home, "open", link)  # a web page can start this: it asks before installing
    assert asked.returncode == 2 and "--yes" in asked.stderr
    assert json.loads(tg(home, "list", "--json").stdout) == []
