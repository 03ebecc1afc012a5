"""Every error says what is wrong and what to do, with the README's exit status: a read-only
client folder is not "damaged", a card's problems are named before anything is sent, a URL
that is no store says so, a port in use says to pick another. Through the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_cli import REG, tg

from conftest import LiveStore, sqlite_only
from store_process import start
from tollgate.crypto.keys import seal_secret
from tollgate.store.db import CardDecline
from tollgate.store.db import Customer as CustomerRow

# What this module tries is the command line's, not the database's: SQLite only.
database_url = pytest.fixture(sqlite_only, name="database_url")

PERSON = ["--name", "Taro", "--email", "taro@example.jp", "--country", "JP"]


def no_customers(store: LiveStore) -> bool:
    with store.ctx.sessions() as s:
        customers = s.scalar(select(func.count()).select_from(CustomerRow))
        declines = s.scalar(select(func.count()).select_from(CardDecline))
    return customers == 0 and declines == 0


@contextmanager
def immutable(folder: Path) -> Iterator[None]:
    """``folder`` read-only even for root (the suite may run as root, which chmod cannot
    stop): the file system's immutable attribute, removed afterwards."""
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a folder read-only here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_home_is_named_as_such_not_damaged(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    assert tg(home, "install", "MT").returncode == 0
    with immutable(home):
        for command in (
            ["list"],
            ["run", "MT", "--", "river"],
            ["install", "MT"],
            ["sync"],
            ["catalog"],
        ):
            said = tg(home, *command)
            assert said.returncode == 2, (command, said.stdout, said.stderr)
            assert "read-only" in said.stderr, (command, said.stderr)
            assert "damaged" not in said.stderr and "Move it aside" not in said.stderr
            assert "Traceback" not in said.stderr
    assert tg(home, "list").returncode == 0  # the file was fine all along


def test_a_home_that_is_a_file_or_unwritable_is_said_before_registering(
    store: LiveStore, tmp_path: Path
) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    said = tg(a_file, "register", store.url, *REG, "--card", "4242424242424242")
    assert said.returncode == 2 and "a file stands where a folder is needed" in said.stderr
    assert "Traceback" not in said.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    with immutable(locked):
        said = tg(locked / "home", "register", store.url, *REG, "--card", "4242424242424242")
    assert said.returncode == 2 and "permission denied" in said.stderr, said.stderr
    assert "Traceback" not in said.stderr
    assert no_customers(store)  # nothing reached the store


@pytest.mark.parametrize(
    ("card", "said"),
    [
        (["--card", "4242424242424241", "--expiry", "12/34", "--cvc", "123"], "mistyped"),
        (["--card", "4242424242424242", "--expiry", "01/20", "--cvc", "123"], "expired in 01/20"),
        (["--card", "4242424242424242", "--expiry", "12/34", "--cvc", "12"], "3 or 4 digits"),
        (["--card", "4242424242424242", "--expiry", "13/34", "--cvc", "123"], "01 to 12"),
        (["--card", "4242424242424242", "--expiry", "1234", "--cvc", "123"], "MM/YY"),
    ],
)
def test_card_problems_are_named_before_anything_is_sent(
    store: LiveStore, tmp_path: Path, card: list[str], said: str
) -> None:
    done = tg(tmp_path / "home", "register", store.url, *PERSON, *card)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert "declined" not in done.stderr
    assert no_customers(store)


def test_every_problem_and_every_missing_field_is_named_at_once(
    store: LiveStore, tmp_path: Path
) -> None:
    missing = tg(tmp_path / "home", "register", store.url, "--name", "Taro")
    assert missing.returncode == 2
    assert "missing --email, --country, --card, --expiry, --cvc" in missing.stderr
    wrong = tg(
        tmp_path / "home",
        "register",
        store.url,
        *["--name", "Taro", "--email", "taro-at-example", "--country", "Japan"],
        *["--card", "4242 4242 4242 4241", "--expiry", "01/21", "--cvc", "1"],
    )
    assert wrong.returncode == 2
    for part in ("not an e-mail address", "not a country code", "mistyped", "expired", "CVC"):
        assert part in wrong.stderr, wrong.stderr
    assert no_customers(store)
    spaced = tg(
        tmp_path / "home", "register", store.url, *PERSON, "--card", "4242 4242 4242 4242",
        "--expiry", "12/34", "--cvc", "123", "--no-handler",
    )  # fmt: skip
    assert spaced.returncode == 0, spaced.stderr  # groups of digits as printed on the card


@pytest.mark.parametrize(
    ("number", "said"),
    [
        ("4000000000000069", "The card has expired"),
        ("4000000000000127", "security code (CVC) is incorrect"),
        ("4000000000000002", "The card was declined"),
    ],
)
def test_the_store_names_an_expired_card_and_a_failed_cvc(
    store: LiveStore, tmp_path: Path, number: str, said: str
) -> None:
    done = tg(tmp_path / "home", "register", store.url, *REG, "--card", number)
    assert done.returncode == 3 and said in done.stderr, done.stderr
    assert not (tmp_path / "home").exists()  # a refused registration leaves no folder behind


class _NotAStore(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def some_web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotAStore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_urls_that_are_no_store_say_so(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    bare = store.url.removeprefix("http://")
    no_scheme = tg(home, "register", bare, *REG, "--card", "4242424242424242")
    assert no_scheme.returncode == 2
    assert f"did you mean http://{bare}?" in no_scheme.stderr
    with some_web_server() as url:
        elsewhere = tg(home, "catalog", "--store", url)
        assert elsewhere.returncode == 5 and "no Tollgate store answers at" in elsewhere.stderr
        assert "<html>" not in elsewhere.stderr  # no server page dumped
        as_json = tg(home, "register", url, *REG, "--card", "4242424242424242", "--json")
        assert as_json.returncode == 5
        assert json.loads(as_json.stdout)["error"]["exit"] == 5


def test_wrong_names_and_files_are_usage_errors(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    unknown = tg(home, "install", "mt")
    assert unknown.returncode == 2 and "did you mean 'MT'?" in unknown.stderr
    not_a_list = tmp_path / "notes.tollgate"
    not_a_list.write_text('{"hello": "world"}')
    opened = tg(home, "open", str(not_a_list), "--yes")
    assert opened.returncode == 2 and "is not a Tollgate install list" in opened.stderr


def test_serve_names_its_pages_and_a_port_in_use(store: LiveStore, tmp_path: Path) -> None:
    folder = store.folder.path
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = tg(tmp_path / "h", "store", "serve", str(folder), "--port", str(port))
    assert busy.returncode == 2, busy.stderr
    assert f"127.0.0.1:{port}" in busy.stderr and "try another with --port" in busy.stderr
    assert "Traceback" not in busy.stderr and "Errno" not in busy.stderr
    proc, url = start(folder)
    proc.terminate()
    output = proc.communicate(timeout=30)[0]
    for line in (
        f"Storefront: {url}/",
        f"Admin pages: {url}/admin",
        f"Customers register at: {url}/bootstrap",
        f"API (OpenAPI): {url}/docs",
    ):
        assert line in output, output


def test_the_vendors_commands_report_like_the_customers(store: LiveStore, tmp_path: Path) -> None:
    """No traceback from `tollgate store …` either: a folder that is not there or not a store,
    a file where a folder goes, a port out of range; and --json failures are JSON."""
    folder = str(store.folder.path)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for command in (
        ["store", "publish", folder, str(tmp_path / "nothing-here")],
        ["store", "publish", folder, str(a_file)],
        ["store", "init", str(a_file)],
        ["store", "sales", str(tmp_path / "no-store")],
        ["store", "serve", folder, "--port", "99999"],
    ):
        said = tg(tmp_path / "h", *command)
        assert said.returncode == 2, (command, said.stderr)
        assert "Traceback" not in said.stderr, (command, said.stderr)
    for command in (
        ["store", "refund", folder, "ord_nothing", "--yes", "--json"],
        ["store", "stop-selling", folder, "cu_nobody", "--yes", "--json"],
        ["store", "sales", str(tmp_path / "no-store"), "--json"],
    ):
        said = tg(tmp_path / "h", *command)
        assert said.returncode == 2, (command, said.stderr)
        assert json.loads(said.stdout)["error"]["exit"] == 2, command


def test_a_store_url_with_a_path_or_without_a_scheme_is_said_plainly(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    deeper = tg(home, "register", store.url + "/admin", *REG, "--card", "4242424242424242")
    assert deeper.returncode == 5 and "no Tollgate store answers at" in deeper.stderr
    bare = store.url.removeprefix("http://")
    browsed = tg(home, "catalog", "--store", bare)
    assert browsed.returncode == 2 and f"did you mean http://{bare}?" in browsed.stderr


def test_sync_exits_with_the_gravest_failure_not_always_unreachable(
    store: LiveStore, tmp_path: Path
) -> None:
    """A renewal whose signature the store cannot verify is an integrity failure (exit 4), as
    for `buy`, not an outage (5): sync exits with its failures' gravest status."""
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0  # a licence to renew
    with store.ctx.sessions.begin() as s:
        row = s.scalars(select(CustomerRow)).one()
        row.purchase_key_sealed = seal_secret(
            store.folder.keys.master, "purchase-key", row.id, os.urandom(32)
        )
    said = tg(home, "sync", "--json")
    assert said.returncode == 4, (said.stdout, said.stderr)
    assert json.loads(said.stdout)["failed"][0]["code"] == "bad_signature"
