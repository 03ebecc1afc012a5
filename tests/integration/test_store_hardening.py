"""The smaller findings of the attack review (issue 15, finding 6), each tried against a real
store: the bootstrap installer built for the store's own URL only, admin throttling that never
locks the right token out, card testing limited store-wide and per card, an owner-only store
folder, and connections that never finish their headers."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from test_admin_pages import _login

from conftest import LiveStore, card, serving, start_store
from tollgate.client.api import StoreAPI
from tollgate.client.errors import Refused
from tollgate.client.registration import register
from tollgate.crypto.keyfile import Binding
from tollgate.runtime.home import ClientHome
from tollgate.store.db import CardDecline
from tollgate.store.services import card_checks


def test_the_installer_names_the_store_url_whatever_the_host_header(
    client_store: LiveStore,
) -> None:
    store = client_store
    plain = httpx.get(f"{store.url}/bootstrap/tollgate-setup.pyz")
    assert plain.status_code == 200
    for host in ("evil.example", "127.0.0.1:1", "x" * 200):
        forged = httpx.get(f"{store.url}/bootstrap/tollgate-setup.pyz", headers={"Host": host})
        assert forged.status_code == 200
        assert forged.content == plain.content  # the same file: nothing rebuilt, nothing named
        assert host.encode() not in forged.content
    page = httpx.get(f"{store.url}/bootstrap", headers={"Host": "evil.example"})
    assert "evil.example" not in page.text


def test_wrong_admin_tokens_never_lock_out_the_right_one(store: LiveStore) -> None:
    token = store.folder.issue_admin_token()
    with httpx.Client(base_url=store.url) as browser:
        codes = [_login(browser, "tga_wrong").status_code for _ in range(15)]
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}  # failures throttled
        assert _login(browser, token).status_code == 303  # ... and the right token still works


def _register(live: LiveStore, home: Path, number: str) -> str:
    with StoreAPI(live.url) as api:
        try:
            register(ClientHome(home), api, card(number), binding=Binding.MACHINE, password=None)
        except Refused as exc:
            return exc.code
    return "ok"


def test_a_card_declined_again_and_again_is_not_tried_again(tmp_path: Path, machine_a: str) -> None:
    live = start_store(tmp_path / "s", f"sqlite:///{tmp_path / 's.db'}", [])
    try:
        declining = "4000000000000002"
        codes = [_register(live, tmp_path / f"h{i}", declining) for i in range(5)]
        assert codes == ["card_declined"] * 5  # one answer for all, the gateway asked 3 times
        with live.ctx.sessions() as s:
            rows = s.scalars(select(CardDecline.fingerprint)).all()
        assert len(rows) == card_checks.DECLINES_PER_CARD
        assert all(declining not in f and "0002" not in f for f in rows)  # a keyed hash only
        assert _register(live, tmp_path / "good", "4242424242424242") == "ok"
    finally:
        live.server.stop()
        live.ctx.close()


def test_declines_store_wide_stop_new_cards_for_everyone(
    tmp_path: Path, machine_a: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(card_checks, "DECLINES_PER_HOUR", 4)
    live = start_store(tmp_path / "s", f"sqlite:///{tmp_path / 's.db'}", [])
    try:
        numbers = ["4000000000000002", "4000000000000069", "4000000000000127", "4242424242424241"]
        said = [_register(live, tmp_path / n, n) for n in numbers]
        assert said == ["card_declined", "expired_card", "incorrect_cvc", "card_declined"]
        assert _register(live, tmp_path / "late", "4242424242424242") == "rate_limited"
        with live.ctx.sessions() as s:
            assert s.scalar(select(func.count(CardDecline.id))) == 4
    finally:
        live.server.stop()
        live.ctx.close()


def serve(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`tollgate store serve` on ``folder``, expected to refuse before it listens."""
    command = [sys.executable, "-m", "tollgate", "store", "serve", str(folder), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _others_can_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def test_the_store_folder_is_owner_only_and_serve_refuses_an_open_one(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    init = subprocess.run(
        [sys.executable, "-m", "tollgate", "store", "init", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    db = folder / "store.db"
    assert db.exists()
    everything = [folder, *folder.rglob("*")]
    assert [p for p in everything if _others_can_read(p)] == []
    os.chmod(folder, 0o755)  # noqa: S103 (the mistake being tested)
    os.chmod(db, 0o644)
    served = serve(folder, "--port", "0")
    assert served.returncode == 2
    assert "chmod -R go-rwx" in served.stderr and "store.db" in served.stderr
    # a keys folder swapped for a link to an open folder is refused too
    os.chmod(folder, 0o700)
    os.chmod(db, 0o600)
    (folder / "keys").rename(tmp_path / "open-keys")
    (folder / "keys").symlink_to(tmp_path / "open-keys", target_is_directory=True)
    served = serve(folder, "--port", "0")
    assert served.returncode == 2 and "symbolic link" in served.stderr


@pytest.fixture
def impatient_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    with serving(tmp_path / "store", database_url, [], request_timeout=1.0) as live:
        yield live


def test_a_connection_that_never_finishes_its_headers_is_closed(
    impatient_store: LiveStore,
) -> None:
    host, port = impatient_store.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"GET /v1/store HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the store
        assert time.monotonic() - started < 9
    # a keep-alive connection whose second request stalls is closed too
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"GET /v1/store HTTP/1.1\r\nHost: x\r\n\r\n")
        first = slow.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        slow.sendall(b"GET /v1/store HTTP/1.1\r\n")
        while chunk := slow.recv(65536):
            assert not chunk.startswith(b"HTTP/1.1")  # the rest of the first answer, if any
    # headers complete, the body promised and never sent
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(
            b"POST /v1/registrations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000\r\n\r\n{"
        )
        started = time.monotonic()
        while chunk := slow.recv(65536):
            assert b"HTTP/1.1 201" not in chunk
        assert time.monotonic() - started < 9
    assert httpx.get(f"{impatient_store.url}/v1/store").status_code == 200  # still serving


def test_serving_on_every_address_needs_the_public_url(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    init = [sys.executable, "-m", "tollgate", "store", "init", str(folder)]
    assert subprocess.run(init, capture_output=True, check=False).returncode == 0
    every = "0.0.0.0"  # noqa: S104 (refused before anything is bound)
    served = serve(folder, "--host", every)
    assert served.returncode == 2 and "public_url" in served.stderr
